package interop;

import static interop.Support.ACCOUNT;
import static interop.Support.MAX_HASH_KEY;
import static interop.Support.check;
import static interop.Support.checkEquals;
import static interop.Support.contains;
import static interop.Support.hashKeyOf;
import static interop.Support.kinesis;
import static interop.Support.kinesisAsync;
import static interop.Support.listShards;
import static interop.Support.waitActive;
import static interop.Support.waitFor;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.Collectors;

import interop.Support.Server;
import interop.Support.WireRecorder;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.core.waiters.WaiterResponse;
import software.amazon.awssdk.services.kinesis.KinesisAsyncClient;
import software.amazon.awssdk.services.kinesis.KinesisClient;
import software.amazon.awssdk.services.kinesis.model.ChildShard;
import software.amazon.awssdk.services.kinesis.model.ConsumerStatus;
import software.amazon.awssdk.services.kinesis.model.DescribeStreamResponse;
import software.amazon.awssdk.services.kinesis.model.ExpiredIteratorException;
import software.amazon.awssdk.services.kinesis.model.GetRecordsResponse;
import software.amazon.awssdk.services.kinesis.model.InvalidArgumentException;
import software.amazon.awssdk.services.kinesis.model.KinesisException;
import software.amazon.awssdk.services.kinesis.model.PutRecordResponse;
import software.amazon.awssdk.services.kinesis.model.PutRecordsRequestEntry;
import software.amazon.awssdk.services.kinesis.model.PutRecordsResponse;
import software.amazon.awssdk.services.kinesis.model.PutRecordsResultEntry;
import software.amazon.awssdk.services.kinesis.model.Record;
import software.amazon.awssdk.services.kinesis.model.ResourceInUseException;
import software.amazon.awssdk.services.kinesis.model.ResourceNotFoundException;
import software.amazon.awssdk.services.kinesis.model.ScalingType;
import software.amazon.awssdk.services.kinesis.model.Shard;
import software.amazon.awssdk.services.kinesis.model.ShardFilterType;
import software.amazon.awssdk.services.kinesis.model.ShardIteratorType;
import software.amazon.awssdk.services.kinesis.model.StreamDescriptionSummary;
import software.amazon.awssdk.services.kinesis.model.StreamStatus;
import software.amazon.awssdk.services.kinesis.model.SubscribeToShardEvent;
import software.amazon.awssdk.services.kinesis.model.SubscribeToShardRequest;
import software.amazon.awssdk.services.kinesis.model.SubscribeToShardResponseHandler;
import software.amazon.awssdk.services.kinesis.model.Tag;

/** AWS SDK for Java v2: the everyday flow (CBOR and JSON), error mapping, SubscribeToShard over TLS + HTTP/2. */
public final class SdkScenarios {
    private SdkScenarios() {}

    static final String CBOR = "application/x-amz-cbor-1.1";
    static final String JSON = "application/x-amz-json-1.1";

    public static void main(String[] args) {
        Map<String, Support.Scenario> scenarios = new LinkedHashMap<>();
        scenarios.put("flow-cbor", () -> flow(true));
        scenarios.put("errors-cbor", () -> errors(true));
        scenarios.put("flow-json", () -> flow(false));
        scenarios.put("errors-json", () -> errors(false));
        scenarios.put("subscribe-tls-h2", SdkScenarios::subscribe);
        System.exit(Support.runScenarios("java-sdk", scenarios, args));
    }

    /** The SDK reads aws.cborEnabled when a client is built: CBOR is its default for Kinesis. */
    private static void protocol(boolean cbor) {
        if (cbor) System.clearProperty("aws.cborEnabled");
        else System.setProperty("aws.cborEnabled", "false");
    }

    private static SdkBytes bytes(String s) {
        return SdkBytes.fromString(s, StandardCharsets.UTF_8);
    }

    private static void checkWire(WireRecorder wire, String contentType) {
        check(!wire.contentTypes.isEmpty(), "no request recorded");
        Set<String> seen = new TreeSet<>(wire.contentTypes);
        checkEquals(Set.of(contentType), seen, "Content-Type of every request");
    }

    /** Reads a shard from TRIM_HORIZON until it is caught up (or closed); returns its records. */
    private static List<Record> readShard(KinesisClient k, String stream, String shardId, List<GetRecordsResponse> pages) {
        String it = k.getShardIterator(b -> b.streamName(stream).shardId(shardId)
                .shardIteratorType(ShardIteratorType.TRIM_HORIZON)).shardIterator();
        List<Record> out = new ArrayList<>();
        for (int i = 0; i < 100 && it != null; i++) {
            String current = it;
            GetRecordsResponse r = k.getRecords(b -> b.shardIterator(current).limit(40));
            if (pages != null) pages.add(r);
            out.addAll(r.records());
            check(r.records().size() <= 40, "GetRecords returned %d records for Limit 40", r.records().size());
            if (r.records().isEmpty() && r.millisBehindLatest() != null && r.millisBehindLatest() == 0) break;
            it = r.nextShardIterator();
        }
        return out;
    }

    // ------------------------------------------------------------------------------------ flow

    static String flow(boolean cbor) throws Exception {
        protocol(cbor);
        WireRecorder wire = new WireRecorder();
        try (Server server = Server.start("sdk-flow", false);
             KinesisClient k = kinesis(server.http(), wire)) {
            String stream = "interop-flow";
            Instant before = Instant.now().minusSeconds(1);

            // create, wait for ACTIVE with the SDK's own waiter (DescribeStream)
            k.createStream(b -> b.streamName(stream).shardCount(2));
            WaiterResponse<DescribeStreamResponse> waited =
                    k.waiter().waitUntilStreamExists(b -> b.streamName(stream));
            DescribeStreamResponse described = waited.matched().response().orElseThrow(
                    () -> new AssertionError("waitUntilStreamExists ended with " + waited.matched().exception()));
            checkEquals(StreamStatus.ACTIVE, described.streamDescription().streamStatus(), "status after the waiter");
            StreamDescriptionSummary summary = k.describeStreamSummary(b -> b.streamName(stream)).streamDescriptionSummary();
            checkEquals("arn:aws:kinesis:us-east-1:" + ACCOUNT + ":stream/" + stream, summary.streamARN(), "StreamARN");
            checkEquals(2, summary.openShardCount(), "OpenShardCount");
            checkEquals(24, summary.retentionPeriodHours(), "RetentionPeriodHours");
            check(summary.streamCreationTimestamp().isAfter(before.minusSeconds(60))
                            && summary.streamCreationTimestamp().isBefore(Instant.now().plusSeconds(60)),
                    "StreamCreationTimestamp %s is not about now (timestamp encoding)", summary.streamCreationTimestamp());
            check(k.listStreams().streamNames().contains(stream), "ListStreams lacks %s", stream);

            List<Shard> shards = listShards(k, stream);
            checkEquals(2, shards.size(), "shards after create");
            checkEquals(BigInteger.ZERO, new BigInteger(shards.get(0).hashKeyRange().startingHashKey()), "first shard start");
            checkEquals(MAX_HASH_KEY, new BigInteger(shards.get(1).hashKeyRange().endingHashKey()), "last shard end");
            checkEquals(new BigInteger(shards.get(0).hashKeyRange().endingHashKey()).add(BigInteger.ONE),
                    new BigInteger(shards.get(1).hashKeyRange().startingHashKey()), "ranges are contiguous");

            // PutRecord (partition key routing, explicit hash key, SequenceNumberForOrdering)
            Map<String, String> expected = new HashMap<>(); // data -> partition key
            Map<String, String> shardOf = new HashMap<>(); // data -> shard id
            PutRecordResponse first = k.putRecord(b -> b.streamName(stream).partitionKey("alpha").data(bytes("first")));
            check(contains(byId(shards, first.shardId()), hashKeyOf("alpha")), "alpha routed to %s", first.shardId());
            expected.put("first", "alpha");
            shardOf.put("first", first.shardId());
            PutRecordResponse second = k.putRecord(b -> b.streamName(stream).partitionKey("alpha")
                    .explicitHashKey(MAX_HASH_KEY.toString()).sequenceNumberForOrdering(first.sequenceNumber())
                    .data(bytes("second")));
            checkEquals(shards.get(1).shardId(), second.shardId(), "ExplicitHashKey 2^128-1 goes to the last shard");
            expected.put("second", "alpha");
            shardOf.put("second", second.shardId());

            // The largest record AWS takes by default: data and partition key together 1 MiB.
            String big = "big-" + "b".repeat(1024 * 1024 - 3 - 4);
            PutRecordResponse bigPut = k.putRecord(b -> b.streamName(stream).partitionKey("big").data(bytes(big)));
            expected.put(big, "big");
            shardOf.put(big, bigPut.shardId());

            // PutRecords: 200 entries, each routed by the MD5 of its key, in order within a shard
            List<PutRecordsRequestEntry> entries = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                String data = "batch-" + i + "-" + "x".repeat(i % 50);
                entries.add(PutRecordsRequestEntry.builder().partitionKey("key-" + i).data(bytes(data)).build());
                expected.put(data, "key-" + i);
            }
            PutRecordsResponse batch = k.putRecords(b -> b.streamName(stream).records(entries));
            checkEquals(0, batch.failedRecordCount(), "FailedRecordCount");
            checkEquals(200, batch.records().size(), "PutRecords result entries");
            Map<String, BigInteger> lastSeq = new HashMap<>();
            for (int i = 0; i < 200; i++) {
                PutRecordsResultEntry e = batch.records().get(i);
                String pk = entries.get(i).partitionKey();
                check(e.errorCode() == null, "entry %d failed: %s", i, e.errorCode());
                check(contains(byId(shards, e.shardId()), hashKeyOf(pk)), "%s routed to %s", pk, e.shardId());
                BigInteger seq = new BigInteger(e.sequenceNumber());
                BigInteger prev = lastSeq.put(e.shardId(), seq);
                check(prev == null || prev.compareTo(seq) < 0, "sequence numbers not increasing in %s", e.shardId());
                shardOf.put(entries.get(i).data().asUtf8String(), e.shardId());
            }

            // GetShardIterator + GetRecords: everything comes back, in order, with sane timestamps
            int read = 0;
            for (Shard shard : shards) {
                List<Record> records = readShard(k, stream, shard.shardId(), null);
                BigInteger prev = null;
                for (Record r : records) {
                    String data = r.data().asUtf8String();
                    String what = data.length() > 40 ? data.substring(0, 40) + "... (" + data.length() + " bytes)" : data;
                    check(expected.containsKey(data), "read a record that was not put: %s", what);
                    checkEquals(expected.get(data), r.partitionKey(), "partition key of " + what);
                    checkEquals(shard.shardId(), shardOf.get(data), "shard of " + what);
                    BigInteger seq = new BigInteger(r.sequenceNumber());
                    check(prev == null || prev.compareTo(seq) < 0, "GetRecords not in sequence order on %s", shard.shardId());
                    prev = seq;
                    Instant at = r.approximateArrivalTimestamp();
                    check(at.isAfter(before.minusSeconds(60)) && at.isBefore(Instant.now().plusSeconds(60)),
                            "ApproximateArrivalTimestamp %s is not about now", at);
                }
                read += records.size();
            }
            checkEquals(expected.size(), read, "records read back");

            // AT_SEQUENCE_NUMBER / AFTER_SEQUENCE_NUMBER / AT_TIMESTAMP / LATEST
            String shard0 = first.shardId();
            Record at = firstRecord(k, () -> k.getShardIterator(b -> b.streamName(stream).shardId(shard0)
                    .shardIteratorType(ShardIteratorType.AT_SEQUENCE_NUMBER).startingSequenceNumber(first.sequenceNumber())).shardIterator());
            checkEquals("first", at.data().asUtf8String(), "AT_SEQUENCE_NUMBER");
            Record after = firstRecord(k, () -> k.getShardIterator(b -> b.streamName(stream).shardId(shard0)
                    .shardIteratorType(ShardIteratorType.AFTER_SEQUENCE_NUMBER).startingSequenceNumber(first.sequenceNumber())).shardIterator());
            check(!after.sequenceNumber().equals(first.sequenceNumber())
                            && new BigInteger(after.sequenceNumber()).compareTo(new BigInteger(first.sequenceNumber())) > 0,
                    "AFTER_SEQUENCE_NUMBER returned %s", after.sequenceNumber());
            Record atTime = firstRecord(k, () -> k.getShardIterator(b -> b.streamName(stream).shardId(shard0)
                    .shardIteratorType(ShardIteratorType.AT_TIMESTAMP).timestamp(before)).shardIterator());
            checkEquals("first", atTime.data().asUtf8String(), "AT_TIMESTAMP before the first put");
            String latest = k.getShardIterator(b -> b.streamName(stream).shardId(shard0)
                    .shardIteratorType(ShardIteratorType.LATEST)).shardIterator();
            PutRecordResponse late = k.putRecord(b -> b.streamName(stream).partitionKey("alpha").data(bytes("late")));
            checkEquals(shard0, late.shardId(), "alpha keeps its shard");
            List<Record> afterLatest = k.getRecords(b -> b.shardIterator(latest)).records();
            checkEquals(List.of("late"), afterLatest.stream().map(r -> r.data().asUtf8String()).collect(Collectors.toList()),
                    "records after a LATEST iterator");

            // UpdateShardCount 2 -> 4, then ListShards with the ShardFilters the KCL and KPL send
            var update = k.updateShardCount(b -> b.streamName(stream).targetShardCount(4).scalingType(ScalingType.UNIFORM_SCALING));
            checkEquals(2, update.currentShardCount(), "UpdateShardCount CurrentShardCount");
            checkEquals(4, update.targetShardCount(), "UpdateShardCount TargetShardCount");
            waitActive(k, stream);
            checkEquals(4, k.describeStreamSummary(b -> b.streamName(stream)).streamDescriptionSummary().openShardCount(),
                    "OpenShardCount after UpdateShardCount");
            List<Shard> all = listShards(k, stream);
            List<Shard> open = all.stream().filter(s -> s.sequenceNumberRange().endingSequenceNumber() == null)
                    .collect(Collectors.toList());
            checkEquals(4, open.size(), "open shards after UpdateShardCount");
            check(all.size() > 4, "the closed parents are still listed (%d shards)", all.size());
            for (Shard s : open) {
                check(s.parentShardId() != null, "child %s has no ParentShardId", s.shardId());
            }
            BigInteger covered = BigInteger.ZERO;
            List<Shard> openSorted = new ArrayList<>(open);
            openSorted.sort((a, b) -> new BigInteger(a.hashKeyRange().startingHashKey())
                    .compareTo(new BigInteger(b.hashKeyRange().startingHashKey())));
            for (Shard s : openSorted) {
                checkEquals(covered, new BigInteger(s.hashKeyRange().startingHashKey()), "open shards cover the key space");
                covered = new BigInteger(s.hashKeyRange().endingHashKey()).add(BigInteger.ONE);
            }
            checkEquals(MAX_HASH_KEY.add(BigInteger.ONE), covered, "open shards end at 2^128-1");

            List<Shard> atLatest = k.listShards(b -> b.streamName(stream)
                    .shardFilter(f -> f.type(ShardFilterType.AT_LATEST))).shards();
            checkEquals(ids(open), ids(atLatest), "ListShards AT_LATEST");
            List<Shard> atTrim = k.listShards(b -> b.streamName(stream)
                    .shardFilter(f -> f.type(ShardFilterType.AT_TRIM_HORIZON))).shards();
            check(ids(atTrim).containsAll(ids(all.subList(0, 2))) && atTrim.size() >= 2,
                    "ListShards AT_TRIM_HORIZON should start from the original shards: %s", ids(atTrim));
            List<Shard> fromTrim = k.listShards(b -> b.streamName(stream)
                    .shardFilter(f -> f.type(ShardFilterType.FROM_TRIM_HORIZON))).shards();
            checkEquals(ids(all), ids(fromTrim), "ListShards FROM_TRIM_HORIZON");
            String firstId = all.get(0).shardId();
            List<Shard> afterId = k.listShards(b -> b.streamName(stream)
                    .shardFilter(f -> f.type(ShardFilterType.AFTER_SHARD_ID).shardId(firstId))).shards();
            checkEquals(ids(all.subList(1, all.size())), ids(afterId), "ListShards AFTER_SHARD_ID " + firstId);
            var page1 = k.listShards(b -> b.streamName(stream).maxResults(2));
            checkEquals(2, page1.shards().size(), "ListShards MaxResults 2");
            check(page1.nextToken() != null, "ListShards MaxResults 2 gave no NextToken");
            var page2 = k.listShards(b -> b.nextToken(page1.nextToken()));
            checkEquals(ids(all.subList(2, Math.min(4, all.size()))), ids(page2.shards()).subList(0, Math.min(2, page2.shards().size())),
                    "second ListShards page");

            // A closed parent read to its end: NextShardIterator null and ChildShards
            List<GetRecordsResponse> pages = new ArrayList<>();
            List<Record> parentRecords = readShard(k, stream, shard0, pages);
            check(!parentRecords.isEmpty(), "closed parent %s lost its records", shard0);
            GetRecordsResponse last = pages.get(pages.size() - 1);
            check(last.nextShardIterator() == null, "closed parent read to its end still gives a NextShardIterator");
            check(last.hasChildShards() && !last.childShards().isEmpty(), "closed parent's last GetRecords has no ChildShards");
            for (ChildShard c : last.childShards()) {
                check(c.parentShards().contains(shard0), "ChildShard %s does not name parent %s", c.shardId(), shard0);
            }

            // tags, both the stream API and the resource API
            k.addTagsToStream(b -> b.streamName(stream).tags(Map.of("env", "interop", "team", "streams")));
            checkEquals(Map.of("env", "interop", "team", "streams"), tags(k.listTagsForStream(b -> b.streamName(stream)).tags()),
                    "ListTagsForStream");
            k.removeTagsFromStream(b -> b.streamName(stream).tagKeys("team"));
            checkEquals(Map.of("env", "interop"), tags(k.listTagsForStream(b -> b.streamName(stream)).tags()),
                    "ListTagsForStream after RemoveTagsFromStream");
            k.tagResource(b -> b.resourceARN(summary.streamARN()).tags(Map.of("owner", "ci")));
            checkEquals(Map.of("env", "interop", "owner", "ci"),
                    tags(k.listTagsForResource(b -> b.resourceARN(summary.streamARN())).tags()), "ListTagsForResource");

            // delete
            k.deleteStream(b -> b.streamName(stream));
            k.waiter().waitUntilStreamNotExists(b -> b.streamName(stream));
            expectError(ResourceNotFoundException.class, () -> k.describeStreamSummary(b -> b.streamName(stream)));

            checkWire(wire, cbor ? CBOR : JSON);
            return String.format("protocol=%s requests=%d records=%d shards=%d", cbor ? "cbor" : "json",
                    wire.contentTypes.size(), read + 1, all.size());
        } finally {
            protocol(true);
        }
    }

    private static Record firstRecord(KinesisClient k, Supplier<String> iterator) {
        List<Record> records = k.getRecords(b -> b.shardIterator(iterator.get()).limit(1)).records();
        check(records.size() == 1, "expected one record, got %d", records.size());
        return records.get(0);
    }

    private static Shard byId(List<Shard> shards, String id) {
        return shards.stream().filter(s -> s.shardId().equals(id)).findFirst()
                .orElseThrow(() -> new AssertionError("no shard " + id));
    }

    private static List<String> ids(List<Shard> shards) {
        return shards.stream().map(Shard::shardId).collect(Collectors.toList());
    }

    private static Map<String, String> tags(List<Tag> tags) {
        Map<String, String> m = new HashMap<>();
        for (Tag t : tags) m.put(t.key(), t.value());
        return m;
    }

    static <E extends Throwable> E expectError(Class<E> type, Runnable call) {
        try {
            call.run();
        } catch (Throwable t) {
            Throwable cause = t instanceof java.util.concurrent.CompletionException && t.getCause() != null ? t.getCause() : t;
            if (type.isInstance(cause)) return type.cast(cause);
            AssertionError e = new AssertionError("expected " + type.getSimpleName() + " but got " + cause);
            e.initCause(cause);
            throw e;
        }
        throw new AssertionError("expected " + type.getSimpleName() + " but the call succeeded");
    }

    // ------------------------------------------------------------------------------------ errors

    static String errors(boolean cbor) throws Exception {
        protocol(cbor);
        WireRecorder wire = new WireRecorder();
        try (Server server = Server.start("sdk-errors", false, "--test-clock");
             KinesisClient k = kinesis(server.http(), wire)) {
            String stream = "interop-errors";
            int checked = 0;

            ResourceNotFoundException rnf = expectError(ResourceNotFoundException.class,
                    () -> k.describeStreamSummary(b -> b.streamName("missing")));
            checkAws(rnf, 400, "ResourceNotFoundException", "Stream missing under account " + ACCOUNT + " not found.");
            checked++;
            rnf = expectError(ResourceNotFoundException.class,
                    () -> k.putRecord(b -> b.streamName("missing").partitionKey("k").data(bytes("d"))));
            checkAws(rnf, 400, "ResourceNotFoundException", "Stream missing under account " + ACCOUNT + " not found.");
            checked++;

            k.createStream(b -> b.streamName(stream).shardCount(3));
            waitActive(k, stream);
            ResourceInUseException inUse = expectError(ResourceInUseException.class,
                    () -> k.createStream(b -> b.streamName(stream).shardCount(1)));
            checkAws(inUse, 400, "ResourceInUseException", "Stream " + stream + " under account " + ACCOUNT + " already exists.");
            checked++;

            rnf = expectError(ResourceNotFoundException.class, () -> k.getShardIterator(b -> b.streamName(stream)
                    .shardId("shardId-000000000099").shardIteratorType(ShardIteratorType.TRIM_HORIZON)));
            checkAws(rnf, 400, "ResourceNotFoundException", null);
            checked++;

            InvalidArgumentException invalid = expectError(InvalidArgumentException.class,
                    () -> k.mergeShards(b -> b.streamName(stream).shardToMerge("shardId-000000000000")
                            .adjacentShardToMerge("shardId-000000000002")));
            checkAws(invalid, 400, "InvalidArgumentException", "Shards shardId-000000000000 and shardId-000000000002 in stream "
                    + stream + " under account " + ACCOUNT + " are not an adjacent pair of shards eligible for merging");
            checked++;
            invalid = expectError(InvalidArgumentException.class,
                    () -> k.splitShard(b -> b.streamName(stream).shardToSplit("shardId-000000000000").newStartingHashKey("0")));
            checkAws(invalid, 400, "InvalidArgumentException", null);
            check(invalid.awsErrorDetails().errorMessage().startsWith("NewStartingHashKey 0 used in SplitShard() on shard shardId-000000000000"),
                    "SplitShard message: %s", invalid.awsErrorDetails().errorMessage());
            checked++;
            invalid = expectError(InvalidArgumentException.class,
                    () -> k.getRecords(b -> b.shardIterator("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")));
            checkAws(invalid, 400, "InvalidArgumentException", "Invalid ShardIterator.");
            checked++;
            invalid = expectError(InvalidArgumentException.class, () -> k.putRecord(b -> b.streamName(stream)
                    .partitionKey("k").explicitHashKey(MAX_HASH_KEY.add(BigInteger.ONE).toString()).data(bytes("d"))));
            checkAws(invalid, 400, "InvalidArgumentException", null);
            checked++;

            // A constraint violation: not modelled for the operation, so a plain KinesisException with the code
            KinesisException validation = expectError(KinesisException.class,
                    () -> k.createStream(b -> b.streamName("bad name!").shardCount(1)));
            checkAws(validation, 400, "ValidationException", null);
            check(validation.awsErrorDetails().errorMessage().contains("streamName"),
                    "ValidationException message does not name the member: %s", validation.awsErrorDetails().errorMessage());
            checked++;

            // ExpiredIteratorException: an iterator older than 5 minutes on the server's (test) clock
            String shard = "shardId-000000000000";
            k.putRecord(b -> b.streamName(stream).partitionKey("k").explicitHashKey("0").data(bytes("d")));
            String it = k.getShardIterator(b -> b.streamName(stream).shardId(shard)
                    .shardIteratorType(ShardIteratorType.TRIM_HORIZON)).shardIterator();
            GetRecordsResponse fresh = k.getRecords(b -> b.shardIterator(it));
            checkEquals(1, fresh.records().size(), "records before the clock moves");
            server.advanceClock(301_000);
            ExpiredIteratorException expired = expectError(ExpiredIteratorException.class, () -> k.getRecords(b -> b.shardIterator(it)));
            checkAws(expired, 400, "ExpiredIteratorException", null);
            check(expired.awsErrorDetails().errorMessage().startsWith("Iterator expired."),
                    "ExpiredIteratorException message: %s", expired.awsErrorDetails().errorMessage());
            expectError(ExpiredIteratorException.class, () -> k.getRecords(b -> b.shardIterator(fresh.nextShardIterator())));
            checked++;
            String again = k.getShardIterator(b -> b.streamName(stream).shardId(shard)
                    .shardIteratorType(ShardIteratorType.TRIM_HORIZON)).shardIterator();
            checkEquals(1, k.getRecords(b -> b.shardIterator(again)).records().size(), "a new iterator after the clock moved");

            checkWire(wire, cbor ? CBOR : JSON);
            return String.format("protocol=%s errors-checked=%d", cbor ? "cbor" : "json", checked);
        } finally {
            protocol(true);
        }
    }

    private static void checkAws(KinesisException e, int status, String code, String message) {
        checkEquals(status, e.statusCode(), code + " HTTP status");
        checkEquals(code, e.awsErrorDetails().errorCode(), "error code");
        check(e.awsErrorDetails().errorMessage() != null && !e.awsErrorDetails().errorMessage().isEmpty(),
                "%s without a message", code);
        if (message != null) checkEquals(message, e.awsErrorDetails().errorMessage(), code + " message");
    }

    // ------------------------------------------------------------------------------------ SubscribeToShard

    /** One SubscribeToShard session: the events it delivered and how it ended. */
    static final class Session {
        final List<SubscribeToShardEvent> events = new CopyOnWriteArrayList<>();
        final CompletableFuture<Void> done;
        final long startNanos = System.nanoTime();
        volatile long endNanos;

        Session(KinesisAsyncClient client, SubscribeToShardRequest request) {
            SubscribeToShardResponseHandler handler = SubscribeToShardResponseHandler.builder()
                    .subscriber(SubscribeToShardResponseHandler.Visitor.builder()
                            .onSubscribeToShardEvent(events::add).build())
                    .build();
            done = client.subscribeToShard(request, handler).whenComplete((v, t) -> endNanos = System.nanoTime());
        }

        void awaitEnd(Duration timeout) throws Exception {
            try {
                done.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (ExecutionException e) {
                throw new AssertionError("SubscribeToShard failed: " + e.getCause(), e.getCause());
            }
        }

        double seconds() {
            return (endNanos - startNanos) / 1e9;
        }

        List<Record> records() {
            List<Record> out = new ArrayList<>();
            for (SubscribeToShardEvent e : events) out.addAll(e.records());
            return out;
        }

        List<String> data() {
            return records().stream().map(r -> r.data().asUtf8String()).collect(Collectors.toList());
        }

        String continuation() {
            String c = null;
            for (SubscribeToShardEvent e : events) {
                if (e.continuationSequenceNumber() != null) c = e.continuationSequenceNumber();
            }
            return c;
        }
    }

    private static List<String> range(String prefix, int from, int to) {
        List<String> out = new ArrayList<>();
        for (int i = from; i < to; i++) out.add(prefix + i);
        return out;
    }

    static String subscribe() throws Exception {
        int sessionSecs = 3;
        try (Server server = Server.start("sdk-subscribe", true, "--subscription-secs", String.valueOf(sessionSecs));
             KinesisAsyncClient async = kinesisAsync(server.https());
             KinesisClient k = kinesis(server.http())) {
            String stream = "interop-subscribe";
            // Control plane over TLS + HTTP/2 as well, with the async client.
            async.createStream(b -> b.streamName(stream).shardCount(1)).get(10, TimeUnit.SECONDS);
            String streamArn = waitFor("stream ACTIVE", Duration.ofSeconds(30), () -> {
                var s = async.describeStreamSummary(b -> b.streamName(stream)).join().streamDescriptionSummary();
                return s.streamStatus() == StreamStatus.ACTIVE ? s.streamARN() : null;
            });
            String consumerArn = async.registerStreamConsumer(b -> b.streamARN(streamArn).consumerName("interop-consumer"))
                    .get(10, TimeUnit.SECONDS).consumer().consumerARN();
            waitFor("consumer ACTIVE", Duration.ofSeconds(30), () -> async.describeStreamConsumer(b -> b.consumerARN(consumerArn))
                    .join().consumerDescription().consumerStatus() == ConsumerStatus.ACTIVE);
            String shard = "shardId-000000000000";

            // Session 1 from TRIM_HORIZON: 20 records already there, 10 more while subscribed; the server
            // ends the session after --subscription-secs.
            putAll(k, stream, range("s-", 0, 20));
            Session s1 = new Session(async, SubscribeToShardRequest.builder().consumerARN(consumerArn).shardId(shard)
                    .startingPosition(p -> p.type(ShardIteratorType.TRIM_HORIZON)).build());
            waitFor("first 20 records pushed", Duration.ofSeconds(10), () -> s1.records().size() >= 20);
            putAll(k, stream, range("s-", 20, 30));
            s1.awaitEnd(Duration.ofSeconds(sessionSecs + 15));
            check(s1.seconds() >= sessionSecs - 0.5 && s1.seconds() < sessionSecs + 5,
                    "session 1 lasted %.1f s; --subscription-secs is %d", s1.seconds(), sessionSecs);
            checkEquals(range("s-", 0, 30), s1.data(), "session 1 records");
            String c1 = s1.continuation();
            // AWS's continuation may run ahead of the last record (it marks progress even without data),
            // never behind it.
            check(new BigInteger(c1).compareTo(new BigInteger(s1.records().get(29).sequenceNumber())) >= 0,
                    "ContinuationSequenceNumber %s is behind the last delivered record", c1);
            for (SubscribeToShardEvent e : s1.events) {
                check(e.millisBehindLatest() != null, "event without MillisBehindLatest");
                check(!e.hasChildShards() || e.childShards().isEmpty(), "ChildShards on an open shard");
            }

            // Resubscribe from the continuation sequence number, as a client does after a session ends.
            putAll(k, stream, range("s-", 30, 40));
            Session s2 = new Session(async, SubscribeToShardRequest.builder().consumerARN(consumerArn).shardId(shard)
                    .startingPosition(p -> p.type(ShardIteratorType.AFTER_SEQUENCE_NUMBER).sequenceNumber(c1)).build());
            waitFor("records 30..39 pushed", Duration.ofSeconds(10), () -> s2.records().size() >= 10);
            putAll(k, stream, range("s-", 40, 45));
            s2.awaitEnd(Duration.ofSeconds(sessionSecs + 15));
            checkEquals(range("s-", 30, 45), s2.data(), "session 2 records (no gap, no duplicate)");
            String c2 = s2.continuation();

            // SplitShard: the next session delivers the rest, then ChildShards with no continuation, and ends.
            String mid = BigInteger.ONE.shiftLeft(127).toString();
            k.splitShard(b -> b.streamName(stream).shardToSplit(shard).newStartingHashKey(mid));
            waitActive(k, stream);
            Session s3 = new Session(async, SubscribeToShardRequest.builder().consumerARN(consumerArn).shardId(shard)
                    .startingPosition(p -> p.type(ShardIteratorType.AFTER_SEQUENCE_NUMBER).sequenceNumber(c2)).build());
            s3.awaitEnd(Duration.ofSeconds(sessionSecs + 15));
            checkEquals(List.of(), s3.data(), "records after the last continuation of the closed parent");
            check(!s3.events.isEmpty(), "no event at all at shard end");
            SubscribeToShardEvent end = s3.events.get(s3.events.size() - 1);
            check(end.hasChildShards() && end.childShards().size() == 2, "last event has ChildShards %s", end.childShards());
            check(end.continuationSequenceNumber() == null, "last event at shard end has ContinuationSequenceNumber %s",
                    end.continuationSequenceNumber());
            Set<String> children = new TreeSet<>();
            for (ChildShard c : end.childShards()) {
                checkEquals(List.of(shard), c.parentShards(), "ParentShards of " + c.shardId());
                children.add(c.shardId());
            }
            check(s3.seconds() < sessionSecs, "the shard-end session should end at once, lasted %.1f s", s3.seconds());

            // A child shard is readable through SubscribeToShard too.
            String upperChild = listShards(k, stream).stream()
                    .filter(s -> children.contains(s.shardId()) && contains(s, MAX_HASH_KEY))
                    .map(Shard::shardId).findFirst().orElseThrow(() -> new AssertionError("no child covers 2^128-1"));
            Session s4 = new Session(async, SubscribeToShardRequest.builder().consumerARN(consumerArn).shardId(upperChild)
                    .startingPosition(p -> p.type(ShardIteratorType.TRIM_HORIZON)).build());
            k.putRecord(b -> b.streamName(stream).partitionKey("k").explicitHashKey(MAX_HASH_KEY.toString()).data(bytes("child-0")));
            s4.awaitEnd(Duration.ofSeconds(sessionSecs + 15));
            checkEquals(List.of("child-0"), s4.data(), "records pushed from child " + upperChild);

            var consumers = async.listStreamConsumers(b -> b.streamARN(streamArn)).get(10, TimeUnit.SECONDS).consumers();
            checkEquals(1, consumers.size(), "ListStreamConsumers");
            async.deregisterStreamConsumer(b -> b.consumerARN(consumerArn)).get(10, TimeUnit.SECONDS);

            return String.format("sessions=4 session1=%.1fs records=%d children=%s", s1.seconds(),
                    s1.records().size() + s2.records().size() + s4.records().size(), children);
        }
    }

    private static void putAll(KinesisClient k, String stream, List<String> data) {
        List<PutRecordsRequestEntry> entries = data.stream()
                .map(d -> PutRecordsRequestEntry.builder().partitionKey("k").explicitHashKey("0").data(bytes(d)).build())
                .collect(Collectors.toList());
        checkEquals(0, k.putRecords(b -> b.streamName(stream).records(entries)).failedRecordCount(), "FailedRecordCount");
    }
}
