package interop;

import java.net.URI;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.cloudwatch.CloudWatchAsyncClient;
import software.amazon.awssdk.services.dynamodb.DynamoDbAsyncClient;
import software.amazon.awssdk.services.kinesis.KinesisAsyncClient;
import software.amazon.awssdk.services.kinesis.KinesisClient;
import software.amazon.awssdk.services.kinesis.model.PutRecordsRequestEntry;
import software.amazon.kinesis.common.ConfigsBuilder;
import software.amazon.kinesis.common.InitialPositionInStream;
import software.amazon.kinesis.common.InitialPositionInStreamExtended;
import software.amazon.kinesis.common.KinesisClientUtil;
import software.amazon.kinesis.coordinator.Scheduler;
import software.amazon.kinesis.lifecycle.events.InitializationInput;
import software.amazon.kinesis.lifecycle.events.LeaseLostInput;
import software.amazon.kinesis.lifecycle.events.ProcessRecordsInput;
import software.amazon.kinesis.lifecycle.events.ShardEndedInput;
import software.amazon.kinesis.lifecycle.events.ShutdownRequestedInput;
import software.amazon.kinesis.metrics.NullMetricsFactory;
import software.amazon.kinesis.processor.ShardRecordProcessor;
import software.amazon.kinesis.processor.SingleStreamTracker;
import software.amazon.kinesis.retrieval.KinesisClientRecord;
import software.amazon.kinesis.retrieval.fanout.FanOutConfig;
import software.amazon.kinesis.retrieval.polling.PollingConfig;

/**
 * The Java KCL's side of `scripts/bench-consumer` (not a test), the same two runs as
 * `shardline bench consume`: (1) N records put first (PutRecords, random keys), then a KCL 3.x worker
 * from TRIM_HORIZON with a processor that only counts and checkpoints each batch, timed from its first
 * record to its last (startup reported apart); (2) on a second stream, records put one at a time at a
 * steady rate, each carrying its send time, and sent → processed noted for each. Prints one JSON line.
 *
 * <p>Arguments: kinesisHttpUri dynamodbUri stream shards records recordSize mode(polling|fanout) rate seconds
 */
public final class KclConsumeBench {
    private KclConsumeBench() {}

    static final class Counter {
        final AtomicLong processed = new AtomicLong();
        final AtomicLong started = new AtomicLong();
        volatile long firstNanos;
        final boolean latency;
        final List<Long> latencies = new ArrayList<>();

        Counter(boolean latency) {
            this.latency = latency;
        }
    }

    static Scheduler scheduler(KinesisAsyncClient kinesis, DynamoDbAsyncClient dynamo, CloudWatchAsyncClient cw,
                               String stream, String app, String mode, Counter counter) {
        ConfigsBuilder configs = new ConfigsBuilder(
                new SingleStreamTracker(stream,
                        InitialPositionInStreamExtended.newInitialPosition(InitialPositionInStream.TRIM_HORIZON)),
                app, kinesis, dynamo, cw, app + "-worker", () -> new ShardRecordProcessor() {
                    @Override
                    public void initialize(InitializationInput input) {
                        counter.started.incrementAndGet();
                    }

                    @Override
                    public void processRecords(ProcessRecordsInput input) {
                        List<KinesisClientRecord> records = input.records();
                        if (records.isEmpty()) return;
                        if (counter.firstNanos == 0) counter.firstNanos = System.nanoTime();
                        if (counter.latency) {
                            long nowNanos = epochNanos();
                            synchronized (counter.latencies) {
                                for (KinesisClientRecord r : records) {
                                    ByteBuffer d = r.data().duplicate();
                                    if (d.remaining() >= 8) counter.latencies.add(nowNanos - d.getLong());
                                }
                            }
                        }
                        counter.processed.addAndGet(records.size());
                        try {
                            input.checkpointer().checkpoint();
                        } catch (Exception e) {
                            // a lost lease: the count stands
                        }
                    }

                    @Override
                    public void leaseLost(LeaseLostInput input) {}

                    @Override
                    public void shardEnded(ShardEndedInput input) {
                        try {
                            input.checkpointer().checkpoint();
                        } catch (Exception e) {
                            // ignore
                        }
                    }

                    @Override
                    public void shutdownRequested(ShutdownRequestedInput input) {}
                });
        var leases = configs.leaseManagementConfig()
                .failoverTimeMillis(10_000)
                .leaseAssignmentIntervalMillis(1_000L)
                .shardSyncIntervalMillis(5_000)
                .leaseAssignmentStrategy(software.amazon.kinesis.leases.LeaseAssignmentStrategy.LEASE_COUNT_BASED);
        leases.workerUtilizationAwareAssignmentConfig().disableWorkerMetrics(true);
        var retrieval = configs.retrievalConfig().retrievalSpecificConfig(mode.equals("polling")
                ? new PollingConfig(stream, kinesis).idleTimeBetweenReadsInMillis(200).maxRecords(10_000)
                : new FanOutConfig(kinesis).streamName(stream).applicationName(app));
        return new Scheduler(configs.checkpointConfig(),
                configs.coordinatorConfig().parentShardPollIntervalMillis(500).shardConsumerDispatchPollIntervalMillis(100),
                leases, configs.lifecycleConfig(),
                configs.metricsConfig().metricsFactory(new NullMetricsFactory()),
                configs.processorConfig(), retrieval);
    }

    /** Nanoseconds since the epoch (the clock's own resolution, microseconds on Linux). */
    static long epochNanos() {
        java.time.Instant n = java.time.Instant.now();
        return n.getEpochSecond() * 1_000_000_000L + n.getNano();
    }

    static double percentile(long[] sorted, double q) {
        if (sorted.length == 0) return 0;
        return sorted[Math.min(sorted.length - 1, (int) Math.floor(q * sorted.length))] / 1e6;
    }

    public static void main(String[] args) throws Exception {
        URI kinesisUri = URI.create(args[0]);
        URI dynamoUri = URI.create(args[1]);
        String stream = args[2];
        int shards = Integer.parseInt(args[3]);
        long records = Long.parseLong(args[4]);
        int size = Integer.parseInt(args[5]);
        String mode = args[6];
        double rate = Double.parseDouble(args[7]);
        double seconds = Double.parseDouble(args[8]);
        String run = Long.toHexString(System.nanoTime());

        KinesisClient sync = Support.kinesis(kinesisUri);
        KinesisAsyncClient kinesis = KinesisClientUtil.createKinesisAsyncClient(KinesisAsyncClient.builder()
                .endpointOverride(kinesisUri).region(Support.REGION).credentialsProvider(Support.CREDENTIALS));
        DynamoDbAsyncClient dynamo = DynamoDbAsyncClient.builder().endpointOverride(dynamoUri).region(Support.REGION)
                .credentialsProvider(Support.CREDENTIALS).build();
        CloudWatchAsyncClient cw = CloudWatchAsyncClient.builder().endpointOverride(URI.create("http://127.0.0.1:9"))
                .region(Support.REGION).credentialsProvider(Support.CREDENTIALS).build();

        // 1. Throughput.
        sync.createStream(b -> b.streamName(stream).shardCount(shards));
        Support.waitActive(sync, stream);
        Random random = new Random(11);
        byte[] pool = new byte[size * 64 + 4096];
        random.nextBytes(pool);
        for (long i = 0; i < records; i += 500) {
            List<PutRecordsRequestEntry> batch = new ArrayList<>();
            for (long j = i; j < Math.min(records, i + 500); j++) {
                int off = random.nextInt(pool.length - size);
                batch.add(PutRecordsRequestEntry.builder().partitionKey(Long.toHexString(random.nextLong()))
                        .data(SdkBytes.fromByteArray(Arrays.copyOfRange(pool, off, off + size))).build());
            }
            sync.putRecords(b -> b.streamName(stream).records(batch));
        }
        Counter tput = new Counter(false);
        Scheduler s1 = scheduler(kinesis, dynamo, cw, stream, "kcl-bench-" + run, mode, tput);
        long start = System.nanoTime();
        Thread t1 = new Thread(s1, "kcl-throughput");
        t1.start();
        long deadline = start + TimeUnit.SECONDS.toNanos(600);
        while (tput.processed.get() < records && System.nanoTime() < deadline) Thread.sleep(5);
        long done = System.nanoTime();
        s1.startGracefulShutdown().get(60, TimeUnit.SECONDS);
        double secs = (done - tput.firstNanos) / 1e9;
        double startup = (tput.firstNanos - start) / 1e9;

        // 2. Latency.
        String latencyStream = stream + "-latency";
        sync.createStream(b -> b.streamName(latencyStream).shardCount(shards));
        Support.waitActive(sync, latencyStream);
        Counter lat = new Counter(true);
        Scheduler s2 = scheduler(kinesis, dynamo, cw, latencyStream, "kcl-latency-" + run, mode, lat);
        Thread t2 = new Thread(s2, "kcl-latency");
        t2.start();
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (lat.started.get() < shards && System.nanoTime() < until) Thread.sleep(20);
        Thread.sleep(500);
        long sent = 0;
        long interval = (long) (1e9 / rate);
        long end = System.nanoTime() + (long) (seconds * 1e9);
        long next = System.nanoTime();
        while (System.nanoTime() < end) {
            long wait = next - System.nanoTime();
            if (wait > 0) Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
            next += interval;
            ByteBuffer data = ByteBuffer.allocate(Math.max(8, size));
            data.putLong(epochNanos());
            data.rewind();
            sync.putRecord(b -> b.streamName(latencyStream).partitionKey(Long.toHexString(random.nextLong()))
                    .data(SdkBytes.fromByteBuffer(data)));
            sent++;
        }
        long wait = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (lat.processed.get() < sent && System.nanoTime() < wait) Thread.sleep(20);
        s2.startGracefulShutdown().get(60, TimeUnit.SECONDS);
        long[] ls;
        synchronized (lat.latencies) {
            ls = lat.latencies.stream().mapToLong(Long::longValue).sorted().toArray();
        }
        System.out.println(String.format(Locale.ROOT,
                "{\"mode\":\"%s\",\"records\":%d,\"record_size\":%d,\"startup_seconds\":%.3f,\"seconds\":%.3f,"
                        + "\"records_per_sec\":%.1f,\"latency_records\":%d,\"latency_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f}}",
                mode.equals("polling") ? "polling" : "fan-out", records, size, startup, secs, records / secs, ls.length,
                percentile(ls, 0.5), percentile(ls, 0.99), ls.length == 0 ? 0 : ls[ls.length - 1] / 1e6));
        System.exit(0);
    }
}
