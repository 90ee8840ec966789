package interop;

import static interop.Support.check;
import static interop.Support.checkEquals;
import static interop.Support.contains;
import static interop.Support.hashKeyOf;
import static interop.Support.waitActive;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.time.Duration;
import java.time.Instant;

import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;

import interop.Support.Server;
import software.amazon.awssdk.services.cloudwatch.CloudWatchClient;
import software.amazon.awssdk.services.cloudwatch.model.Datapoint;
import software.amazon.awssdk.services.cloudwatch.model.Dimension;
import software.amazon.awssdk.services.cloudwatch.model.DimensionFilter;
import software.amazon.awssdk.services.cloudwatch.model.Metric;
import software.amazon.awssdk.services.cloudwatch.model.Statistic;
import software.amazon.awssdk.services.kinesis.KinesisClient;
import software.amazon.awssdk.services.kinesis.model.GetRecordsResponse;
import software.amazon.awssdk.services.kinesis.model.Shard;
import software.amazon.awssdk.services.kinesis.model.ShardIteratorType;
import software.amazon.kinesis.producer.Attempt;
import software.amazon.kinesis.producer.KinesisProducer;
import software.amazon.kinesis.producer.KinesisProducerConfiguration;
import software.amazon.kinesis.producer.UserRecordResult;
import software.amazon.kinesis.retrieval.AggregatorUtil;
import software.amazon.kinesis.retrieval.KinesisClientRecord;

/**
 * The Kinesis Producer Library 1.0.x (its native daemon from the jar) against shardline's HTTPS
 * port, read back with a deaggregating reader that uses the KCL's AggregatorUtil the way the KCL
 * does (user records outside the shard's hash range are dropped).
 */
public final class KplScenarios {
    private KplScenarios() {}

    public static void main(String[] args) {
        Map<String, Support.Scenario> scenarios = new LinkedHashMap<>();
        scenarios.put("aggregation-50k", KplScenarios::aggregation);
        scenarios.put("split-shard-map", KplScenarios::splitShardMap);
        scenarios.put("limits-aws", KplScenarios::limitsAws);
        scenarios.put("metrics-to-cloudwatch", KplScenarios::metricsToCloudWatch);
        System.exit(Support.runScenarios("java-kpl", scenarios, args));
    }

    /** One user record as the test produced it. */
    record UserRec(String pk, String ehk, String data) {
        BigInteger hashKey() {
            return ehk != null ? new BigInteger(ehk) : hashKeyOf(pk);
        }
    }

    /** One user record as the reader found it. */
    record Seen(String shard, String seq, long sub, String pk, String ehk, String data, boolean aggregated) {}

    static KinesisProducer producer(Server server, boolean aggregation, long rateLimit) throws Exception {
        return new KinesisProducer(producerConfig(server, aggregation, rateLimit));
    }

    static KinesisProducerConfiguration producerConfig(Server server, boolean aggregation, long rateLimit) throws Exception {
        // The KPL extracts its ~90 MB native daemon here once (it reuses a matching copy).
        Path tmp = Path.of(System.getenv().getOrDefault("INTEROP_KPL_TMP", Support.workDir().resolve("kpl").toString()));
        Files.createDirectories(tmp);
        KinesisProducerConfiguration config = new KinesisProducerConfiguration()
                // The KPL always speaks HTTPS (host name and port only, no scheme) ...
                .setKinesisEndpoint("127.0.0.1")
                .setKinesisPort(server.tlsPort)
                // ... and shardline's certificate is self-signed: the KPL's documented switch for that.
                .setVerifyCertificate(false)
                .setRegion("us-east-1")
                .setCredentialsProvider(Support.CREDENTIALS)
                .setMetricsLevel("none")
                .setAggregationEnabled(aggregation)
                .setRecordMaxBufferedTime(100)
                .setRequestTimeout(10_000)
                .setRecordTtl(60_000)
                .setRateLimit(rateLimit)
                .setLogLevel("warning")
                .setTempDirectory(tmp.toString());
        return config;
    }

    static List<UserRecordResult> await(List<ListenableFuture<UserRecordResult>> futures, long seconds) throws Exception {
        return Futures.allAsList(futures).get(seconds, TimeUnit.SECONDS);
    }

    /**
     * Reads every shard from TRIM_HORIZON to its end (or to now) and deaggregates like the KCL
     * (AggregatorUtil with the shard's hash range). With {@code unfiltered} non-null it also
     * collects every user record of every aggregate, without the hash-range filter.
     */
    static List<Seen> readAll(KinesisClient k, String stream, int[] kinesisRecords, List<Seen> unfiltered) {
        AggregatorUtil aggregator = new AggregatorUtil();
        List<Seen> seen = new ArrayList<>();
        for (Shard shard : Support.listShards(k, stream)) {
            String it = k.getShardIterator(b -> b.streamName(stream).shardId(shard.shardId())
                    .shardIteratorType(ShardIteratorType.TRIM_HORIZON)).shardIterator();
            for (int i = 0; i < 10_000 && it != null; i++) {
                String current = it;
                GetRecordsResponse r = k.getRecords(b -> b.shardIterator(current));
                List<KinesisClientRecord> raw = new ArrayList<>();
                r.records().forEach(x -> raw.add(KinesisClientRecord.fromRecord(x)));
                if (kinesisRecords != null) kinesisRecords[0] += raw.size();
                if (unfiltered != null) {
                    List<KinesisClientRecord> copy = new ArrayList<>();
                    r.records().forEach(x -> copy.add(KinesisClientRecord.fromRecord(x)));
                    for (KinesisClientRecord u : aggregator.deaggregate(copy)) {
                        unfiltered.add(new Seen(shard.shardId(), u.sequenceNumber(), u.subSequenceNumber(), u.partitionKey(),
                                u.explicitHashKey(), StandardCharsets.UTF_8.decode(u.data()).toString(), u.aggregated()));
                    }
                }
                for (KinesisClientRecord u : aggregator.deaggregate(raw, shard.hashKeyRange().startingHashKey(),
                        shard.hashKeyRange().endingHashKey())) {
                    seen.add(new Seen(shard.shardId(), u.sequenceNumber(), u.subSequenceNumber(), u.partitionKey(),
                            u.explicitHashKey(), StandardCharsets.UTF_8.decode(u.data()).toString(), u.aggregated()));
                }
                if (r.records().isEmpty() && r.millisBehindLatest() != null && r.millisBehindLatest() == 0) break;
                it = r.nextShardIterator();
            }
        }
        return seen;
    }

    /** Checks every produced user record was seen with its key, explicit hash key and data; returns duplicates. */
    static int checkSeen(Map<String, UserRec> produced, Map<String, UserRecordResult> results, List<Seen> seen,
                         Map<String, Shard> shards) {
        Map<String, Integer> counts = new HashMap<>();
        Map<String, Boolean> matchedResult = new HashMap<>();
        for (Seen s : seen) {
            UserRec u = produced.get(s.data);
            check(u != null, "read a user record nobody produced: %s", s.data);
            checkEquals(u.pk, s.pk, "partition key of " + s.data);
            // Kinesis does not store a record's ExplicitHashKey: only aggregated user records carry theirs.
            if (s.aggregated) checkEquals(u.ehk, s.ehk, "explicit hash key of " + s.data);
            check(contains(shards.get(s.shard), u.hashKey()), "%s read from %s, outside its hash range", s.data, s.shard);
            counts.merge(s.data, 1, Integer::sum);
            UserRecordResult r = results.get(s.data);
            if (r != null && r.getShardId().equals(s.shard) && r.getSequenceNumber().equals(s.seq)) {
                matchedResult.put(s.data, true);
            }
        }
        List<String> missing = new ArrayList<>();
        for (String d : produced.keySet()) if (!counts.containsKey(d)) missing.add(d);
        check(missing.isEmpty(), "%d user records never read back, e.g. %s", missing.size(), missing.subList(0, Math.min(5, missing.size())));
        int unmatched = 0;
        for (String d : results.keySet()) if (!matchedResult.containsKey(d)) unmatched++;
        checkEquals(0, unmatched, "user records whose KPL result (shard, sequence number) was not found by the reader");
        return seen.size() - counts.size();
    }

    static Map<String, Shard> shardMap(KinesisClient k, String stream) {
        return Support.shardsById(Support.listShards(k, stream));
    }

    static int attemptsWithError(Iterable<UserRecordResult> results, String code) {
        int n = 0;
        for (UserRecordResult r : results) {
            for (Attempt a : r.getAttempts()) {
                if (!a.isSuccessful() && code.equals(a.getErrorCode())) n++;
            }
        }
        return n;
    }

    static void checkResults(Map<String, UserRec> produced, Map<String, UserRecordResult> results, Map<String, Shard> shards) {
        for (Map.Entry<String, UserRecordResult> e : results.entrySet()) {
            UserRecordResult r = e.getValue();
            check(r.isSuccessful(), "user record %s failed: %s", e.getKey(), r.getAttempts());
            Shard s = shards.get(r.getShardId());
            check(s != null, "KPL result names unknown shard %s", r.getShardId());
            check(contains(s, produced.get(e.getKey()).hashKey()),
                    "KPL result for %s names %s, whose hash range does not hold the record's hash key", e.getKey(), r.getShardId());
        }
    }

    // ------------------------------------------------------------------------------------ 50,000 records

    static String aggregation() throws Exception {
        int n = 50_000;
        try (Server server = Server.start("kpl-aggregation", true); KinesisClient k = Support.kinesis(server.http())) {
            String stream = "kpl-aggregation";
            k.createStream(b -> b.streamName(stream).shardCount(4));
            waitActive(k, stream);
            Random random = new Random(42);
            Map<String, UserRec> produced = new LinkedHashMap<>();
            List<ListenableFuture<UserRecordResult>> futures = new ArrayList<>();
            long start = System.nanoTime();
            KinesisProducer kpl = producer(server, true, 150);
            try {
                for (int i = 0; i < n; i++) {
                    String pk = "user-" + (i % 1000);
                    String ehk = i % 10 == 0 ? new BigInteger(128, random).toString() : null;
                    String data = "u" + i + ":" + Long.toHexString(random.nextLong()) + "-".repeat(i % 40);
                    produced.put(data, new UserRec(pk, ehk, data));
                    futures.add(kpl.addUserRecord(stream, pk, ehk, ByteBuffer.wrap(data.getBytes(StandardCharsets.UTF_8))));
                }
                kpl.flush(); // send what is buffered now; await() below bounds the wait
                List<UserRecordResult> done = await(futures, 120);
                double putSecs = Support.secondsSince(start);
                Map<String, UserRecordResult> results = new HashMap<>();
                int i = 0;
                for (String data : produced.keySet()) results.put(data, done.get(i++));
                Map<String, Shard> shards = shardMap(k, stream);
                checkResults(produced, results, shards);

                int[] kinesisRecords = {0};
                List<Seen> seen = readAll(k, stream, kinesisRecords, null);
                int duplicates = checkSeen(produced, results, seen, shards);
                long aggregatedUserRecords = seen.stream().filter(Seen::aggregated).count();
                check(kinesisRecords[0] < n / 10, "aggregation did not happen: %d Kinesis records for %d user records",
                        kinesisRecords[0], n);
                check(aggregatedUserRecords > n * 9L / 10, "only %d user records came from aggregated records", aggregatedUserRecords);
                return String.format("user-records=%d read=%d kinesis-records=%d duplicates=%d put=%.1fs", n, seen.size(),
                        kinesisRecords[0], duplicates, putSecs);
            } finally {
                kpl.destroy();
            }
        }
    }

    // ------------------------------------------------------------------------------------ metrics published to shardline

    /**
     * The KPL's own CloudWatch metrics (level summary, per stream), uploaded with PutMetricData in
     * the query protocol over HTTPS to shardline's TLS port, then read back with the Java SDK's
     * CloudWatch client: UserRecordsPut adds up to the records put.
     */
    static String metricsToCloudWatch() throws Exception {
        int n = 2_000;
        try (Server server = Server.start("kpl-metrics", true); KinesisClient k = Support.kinesis(server.http());
             CloudWatchClient cw = CloudWatchClient.builder().endpointOverride(server.http()).region(Support.REGION)
                     .credentialsProvider(Support.CREDENTIALS).build()) {
            String stream = "kpl-metrics";
            k.createStream(b -> b.streamName(stream).shardCount(2));
            waitActive(k, stream);
            KinesisProducerConfiguration config = producerConfig(server, true, 150)
                    .setMetricsLevel("summary")
                    .setMetricsGranularity("stream")
                    .setMetricsUploadDelay(1_000)
                    .setCloudwatchEndpoint("127.0.0.1")
                    .setCloudwatchPort(server.tlsPort);
            KinesisProducer kpl = new KinesisProducer(config);
            long start = System.nanoTime();
            try {
                List<ListenableFuture<UserRecordResult>> futures = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    futures.add(kpl.addUserRecord(stream, "pk-" + i, ByteBuffer.wrap(("m" + i).getBytes(StandardCharsets.UTF_8))));
                }
                kpl.flush();
                await(futures, 60);
                Dimension byStream = Dimension.builder().name("StreamName").value(stream).build();
                // The KPL uploads every second; wait until all n show up in the per-stream series.
                double sum = Support.waitFor("UserRecordsPut of the stream adding up to " + n, Duration.ofSeconds(60), () -> {
                    Instant now = Instant.now();
                    double total = cw.getMetricStatistics(b -> b.namespace("KinesisProducerLibrary").metricName("UserRecordsPut")
                                    .dimensions(byStream).startTime(now.minusSeconds(600)).endTime(now.plusSeconds(60))
                                    .period(60).statistics(Statistic.SUM))
                            .datapoints().stream().mapToDouble(Datapoint::sum).sum();
                    return total >= n ? total : null;
                });
                checkEquals((double) n, sum, "UserRecordsPut summed over the stream's datapoints");
                List<String> names = cw.listMetrics(b -> b.namespace("KinesisProducerLibrary").dimensions(
                                DimensionFilter.builder().name("StreamName").value(stream).build()))
                        .metrics().stream().map(Metric::metricName).distinct().sorted().toList();
                check(names.contains("UserRecordsPut") && names.contains("KinesisRecordsPut"),
                        "the KPL's per-stream metrics listed: %s", names);
                return String.format("user-records=%d UserRecordsPut=%.0f metrics=%d after=%.1fs", n, sum, names.size(),
                        Support.secondsSince(start));
            } finally {
                kpl.destroy();
            }
        }
    }

    // ------------------------------------------------------------------------------------ split during production

    static String splitShardMap() throws Exception {
        int n = 20_000;
        try (Server server = Server.start("kpl-split", true); KinesisClient k = Support.kinesis(server.http())) {
            String stream = "kpl-split";
            k.createStream(b -> b.streamName(stream).shardCount(2));
            waitActive(k, stream);
            Shard parent = Support.listShards(k, stream).get(0);
            Random random = new Random(7);
            Map<String, UserRec> produced = new LinkedHashMap<>();
            List<ListenableFuture<UserRecordResult>> futures = new ArrayList<>();
            KinesisProducer kpl = producer(server, true, 150);
            try {
                long start = System.nanoTime();
                for (int i = 0; i < n; i++) {
                    if (i == n / 3) {
                        // Split while the KPL is producing: its cached shard map is now stale.
                        BigInteger lo = new BigInteger(parent.hashKeyRange().startingHashKey());
                        BigInteger hi = new BigInteger(parent.hashKeyRange().endingHashKey());
                        k.splitShard(b -> b.streamName(stream).shardToSplit(parent.shardId())
                                .newStartingHashKey(lo.add(hi).shiftRight(1).toString()));
                        waitActive(k, stream);
                    }
                    String pk = "key-" + random.nextInt(100_000);
                    String data = "s" + i;
                    produced.put(data, new UserRec(pk, null, data));
                    futures.add(kpl.addUserRecord(stream, pk, null, ByteBuffer.wrap(data.getBytes(StandardCharsets.UTF_8))));
                    // about 4,000 user records a second, so the split happens mid-stream
                    if (i % 400 == 399) Thread.sleep(100);
                }
                kpl.flush(); // send what is buffered now; await() below bounds the wait
                List<UserRecordResult> done = await(futures, 120);
                double putSecs = Support.secondsSince(start);
                Map<String, UserRecordResult> results = new HashMap<>();
                int i = 0;
                for (String data : produced.keySet()) results.put(data, done.get(i++));
                Map<String, Shard> shards = shardMap(k, stream);
                checkEquals(4, shards.size(), "shards after the split");
                checkResults(produced, results, shards);
                long toChildren = results.values().stream()
                        .filter(r -> shards.get(r.getShardId()).parentShardId() != null).count();
                check(toChildren > 0, "no user record went to the split's children: the KPL never refreshed its shard map");
                int wrongShard = attemptsWithError(results.values(), "Wrong Shard");

                List<Seen> all = new ArrayList<>();
                List<Seen> seen = readAll(k, stream, null, all);
                // shardline routed every aggregate by its ExplicitHashKey, the first user record's hash key
                for (Seen u : all) {
                    if (u.aggregated && u.sub == 0) {
                        check(contains(shards.get(u.shard), produced.get(u.data).hashKey()),
                                "aggregate %s/%s in %s, but its first user record's hash key is outside the shard",
                                u.shard, u.seq, u.shard);
                    }
                }
                // Every user record is stored where the KPL's result says, with its key and data.
                Map<String, List<Seen>> byAggregate = new HashMap<>();
                for (Seen u : all) byAggregate.computeIfAbsent(u.shard + "/" + u.seq, x -> new ArrayList<>()).add(u);
                for (Map.Entry<String, UserRecordResult> e : results.entrySet()) {
                    UserRecordResult r = e.getValue();
                    List<Seen> aggregate = byAggregate.getOrDefault(r.getShardId() + "/" + r.getSequenceNumber(), List.of());
                    check(aggregate.stream().anyMatch(u -> u.data.equals(e.getKey()) && u.pk.equals(produced.get(e.getKey()).pk)),
                            "user record %s is not in the record %s/%s the KPL reported", e.getKey(), r.getShardId(),
                            r.getSequenceNumber());
                }
                // What a KCL consumer sees. A user record it misses must be one the KPL accepted from
                // an aggregate that landed on a child while other user records of that aggregate
                // belong to the other child (KPL >= 0.15.11 succeeds those, amazon-kinesis-producer
                // #576, and the KCL's AggregatorUtil drops a whole aggregate with any foreign record):
                // a KPL/KCL matter that AWS shows as well, so it is counted, not failed.
                java.util.Set<String> seenData = new java.util.HashSet<>();
                for (Seen u : seen) seenData.add(u.data);
                int kclDropped = 0;
                for (Map.Entry<String, UserRecordResult> e : results.entrySet()) {
                    if (seenData.contains(e.getKey())) continue;
                    UserRecordResult r = e.getValue();
                    Shard shard = shards.get(r.getShardId());
                    List<Seen> aggregate = byAggregate.get(r.getShardId() + "/" + r.getSequenceNumber());
                    check(aggregate.stream().anyMatch(u -> !contains(shard, produced.get(u.data).hashKey())),
                            "user record %s is missing for a KCL consumer although its aggregate %s/%s holds only records of"
                                    + " that shard", e.getKey(), r.getShardId(), r.getSequenceNumber());
                    kclDropped++;
                }
                for (Seen u : seen) {
                    checkEquals(produced.get(u.data).pk, u.pk, "partition key of " + u.data);
                }
                return String.format("user-records=%d to-children=%d wrong-shard-retries=%d dropped-by-kcl-deaggregation=%d"
                        + " put=%.1fs", n, toChildren, wrongShard, kclDropped, putSecs);
            } finally {
                kpl.destroy();
            }
        }
    }

    // ------------------------------------------------------------------------------------ AWS limits

    static String limitsAws() throws Exception {
        int n = 4_000;
        try (Server server = Server.start("kpl-limits", true, "--limits", "aws");
             KinesisClient k = Support.kinesis(server.http())) {
            String stream = "kpl-limits";
            k.createStream(b -> b.streamName(stream).shardCount(1));
            waitActive(k, stream);
            Map<String, UserRec> produced = new LinkedHashMap<>();
            List<ListenableFuture<UserRecordResult>> futures = new ArrayList<>();
            // No aggregation: one Kinesis record per user record, so the 1,000 records/s per shard
            // limit applies; the KPL's own rate limit (default 150 % of a shard's) lets it overshoot.
            KinesisProducer kpl = producer(server, false, 150);
            try {
                long start = System.nanoTime();
                for (int i = 0; i < n; i++) {
                    String data = "l" + i + "-" + "x".repeat(80);
                    String pk = "pk-" + i;
                    produced.put(data, new UserRec(pk, null, data));
                    futures.add(kpl.addUserRecord(stream, pk, null, ByteBuffer.wrap(data.getBytes(StandardCharsets.UTF_8))));
                }
                kpl.flush(); // send what is buffered now; await() below bounds the wait
                List<UserRecordResult> done = await(futures, 120);
                double putSecs = Support.secondsSince(start);
                Map<String, UserRecordResult> results = new HashMap<>();
                int i = 0;
                for (String data : produced.keySet()) results.put(data, done.get(i++));
                Map<String, Shard> shards = shardMap(k, stream);
                checkResults(produced, results, shards);
                int throttled = attemptsWithError(results.values(), "ProvisionedThroughputExceededException");
                check(throttled > 0, "the KPL never saw ProvisionedThroughputExceededException (put took %.1fs)", putSecs);
                check(putSecs >= (n / 1000.0) - 1.5, "%d records on one shard in %.1fs: faster than 1,000 records/s", n, putSecs);

                List<Seen> seen = readAll(k, stream, null, null);
                int duplicates = checkSeen(produced, results, seen, shards);
                String metrics = server.metrics();
                double serverThrottled = Support.metricSum(metrics, "WriteProvisionedThroughputExceeded");
                check(serverThrottled > 0, "shardline's WriteProvisionedThroughputExceeded metric is 0");
                return String.format("user-records=%d throttled-attempts=%d duplicates=%d put=%.1fs", n, throttled,
                        duplicates, putSecs);
            } finally {
                kpl.destroy();
            }
        }
    }
}
