package interop;

import static interop.Support.check;
import static interop.Support.checkEquals;
import static interop.Support.contains;
import static interop.Support.hashKeyOf;
import static interop.Support.waitActive;

import java.io.BufferedWriter;
import java.io.OutputStreamWriter;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import interop.KplScenarios.Seen;
import interop.Support.Server;
import software.amazon.awssdk.services.kinesis.KinesisClient;
import software.amazon.awssdk.services.kinesis.model.Shard;

/**
 * shardline's own producer library (through `shardline produce --aggregate`) read back by the KCL's
 * deaggregation (AggregatorUtil with each shard's hash range, as the KCL reads): every line once,
 * with its partition key, in aggregates; and during a split, nothing lost and no aggregate the KCL
 * would drop holding a record that was not put again.
 */
public final class RustProducerScenarios {
    private RustProducerScenarios() {}

    public static void main(String[] args) {
        Map<String, Support.Scenario> scenarios = new LinkedHashMap<>();
        scenarios.put("aggregates-to-kcl", RustProducerScenarios::aggregatesToKcl);
        scenarios.put("split-while-producing", RustProducerScenarios::splitWhileProducing);
        System.exit(Support.runScenarios("rust-producer", scenarios, args));
    }

    /** `shardline produce` on the server's plain port, its standard input fed by {@code feed}. */
    interface Feed {
        void write(BufferedWriter in) throws Exception;
    }

    static String produce(Server server, String stream, Feed feed) throws Exception {
        Path log = Support.workDir().resolve("produce-" + stream + ".log");
        ProcessBuilder builder = new ProcessBuilder(Support.env("SHARDLINE_BIN"), "produce", "--stream", stream,
                "--endpoint", server.http().toString(), "--aggregate", "--partition-key", "field:pk", "--linger-ms", "20")
                .redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().put("AWS_ACCESS_KEY_ID", "interop");
        builder.environment().put("AWS_SECRET_ACCESS_KEY", "interop-secret");
        Process p = builder.start();
        try (BufferedWriter in = new BufferedWriter(new OutputStreamWriter(p.getOutputStream(), StandardCharsets.UTF_8))) {
            feed.write(in);
        }
        check(p.waitFor(120, TimeUnit.SECONDS), "shardline produce did not finish within 120 s");
        String out = Support.tail(log, 2000);
        checkEquals(0, p.exitValue(), "shardline produce's exit status (output: " + out + ")");
        return out.trim();
    }

    static String line(int i) {
        return "{\"pk\":\"user-" + (i % 997) + "\",\"n\":" + i + ",\"pad\":\"" + "x".repeat(i % 30) + "\"}";
    }

    /** Every line read back exactly once (or, with {@code allowDuplicates}, at least once); returns duplicates. */
    static int checkLines(int n, List<Seen> seen, Map<String, Shard> shards, boolean allowDuplicates) {
        Map<String, Integer> counts = new HashMap<>();
        for (Seen s : seen) {
            int at = s.data().indexOf("\"n\":");
            check(at > 0, "not a produced line: %s", s.data());
            int i = Integer.parseInt(s.data().substring(at + 4, s.data().indexOf(',', at)));
            checkEquals(line(i), s.data(), "line " + i);
            checkEquals("user-" + (i % 997), s.pk(), "partition key of line " + i);
            BigInteger hash = hashKeyOf(s.pk());
            check(contains(shards.get(s.shard()), hash), "line %d read from %s, outside its hash range", i, s.shard());
            counts.merge(s.data(), 1, Integer::sum);
        }
        checkEquals(n, counts.size(), "distinct lines read back");
        int duplicates = seen.size() - counts.size();
        if (!allowDuplicates) checkEquals(0, duplicates, "lines read twice");
        return duplicates;
    }

    static String aggregatesToKcl() throws Exception {
        int n = 30_000;
        try (Server server = Server.start("rust-producer", false); KinesisClient k = Support.kinesis(server.http())) {
            String stream = "rust-aggregates";
            k.createStream(b -> b.streamName(stream).shardCount(4));
            waitActive(k, stream);
            long start = System.nanoTime();
            String summary = produce(server, stream, in -> {
                for (int i = 0; i < n; i++) {
                    in.write(line(i));
                    in.write('\n');
                }
            });
            double secs = Support.secondsSince(start);
            int[] kinesisRecords = {0};
            List<Seen> seen = KplScenarios.readAll(k, stream, kinesisRecords, null);
            checkLines(n, seen, KplScenarios.shardMap(k, stream), false);
            long aggregated = seen.stream().filter(Seen::aggregated).count();
            check(aggregated > n * 9L / 10, "only %d of %d lines came out of aggregates", aggregated, n);
            check(kinesisRecords[0] < n / 20, "%d Kinesis records for %d lines: aggregation did not happen", kinesisRecords[0], n);
            return String.format("lines=%d kinesis-records=%d produce=%.1fs (%s)", n, kinesisRecords[0], secs,
                    summary.replaceAll("\\s+", " "));
        }
    }

    static String splitWhileProducing() throws Exception {
        int n = 40_000;
        try (Server server = Server.start("rust-producer-split", false); KinesisClient k = Support.kinesis(server.http())) {
            String stream = "rust-split";
            k.createStream(b -> b.streamName(stream).shardCount(2));
            waitActive(k, stream);
            produce(server, stream, in -> {
                for (int i = 0; i < n; i++) {
                    if (i == n / 2) {
                        in.flush();
                        // Let the first half reach the server, then split the first shard in the middle.
                        Support.sleep(500);
                        Shard first = Support.listShards(k, stream).get(0);
                        BigInteger lo = new BigInteger(first.hashKeyRange().startingHashKey());
                        BigInteger hi = new BigInteger(first.hashKeyRange().endingHashKey());
                        k.splitShard(b -> b.streamName(stream).shardToSplit(first.shardId())
                                .newStartingHashKey(lo.add(hi.subtract(lo).shiftRight(1)).toString()));
                    }
                    in.write(line(i));
                    in.write('\n');
                }
            });
            List<Seen> unfiltered = new ArrayList<>();
            List<Seen> seen = KplScenarios.readAll(k, stream, null, unfiltered);
            Map<String, Shard> shards = KplScenarios.shardMap(k, stream);
            check(shards.size() == 4, "the split made two children: %s", shards.keySet());
            int duplicates = checkLines(n, seen, shards, true);
            long toChildren = seen.stream().filter(s -> !s.shard().equals("shardId-000000000000")
                    && !s.shard().equals("shardId-000000000001")).count();
            check(toChildren > 0, "no line reached the children after the split");
            return String.format("lines=%d to-children=%d duplicates-seen-by-kcl=%d dropped-by-kcl=%d", n, toChildren,
                    duplicates, unfiltered.size() - seen.size());
        }
    }
}
