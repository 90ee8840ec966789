package interop;

import java.io.IOException;
import java.io.Writer;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import software.amazon.awssdk.services.cloudwatch.CloudWatchAsyncClient;
import software.amazon.awssdk.services.dynamodb.DynamoDbAsyncClient;
import software.amazon.awssdk.services.kinesis.KinesisAsyncClient;
import software.amazon.kinesis.common.ConfigsBuilder;
import software.amazon.kinesis.common.InitialPositionInStream;
import software.amazon.kinesis.common.InitialPositionInStreamExtended;
import software.amazon.kinesis.common.KinesisClientUtil;
import software.amazon.kinesis.coordinator.CoordinatorConfig;
import software.amazon.kinesis.coordinator.Scheduler;
import software.amazon.kinesis.leases.LeaseManagementConfig;
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
 * One KCL 3.x worker, run as its own JVM by {@link KclScenario}. It processes a stream with a
 * record processor that writes every lifecycle call and every record to an event file (flushed
 * before each checkpoint, so the file survives kill -9 up to the last checkpoint), checkpointing
 * at most once per {@code checkpoint-ms} per shard. SIGTERM shuts it down gracefully (the KCL
 * asks each processor to checkpoint).
 *
 * <p>Event lines: {@code <epochMillis> <EVENT> <shard> <processorId> [fields]} with EVENT one of
 * INIT (checkpoint seq/sub it starts from), REC (seq sub data), CKPT (seq sub), ENDING, END,
 * LOST, SHUTREQ; plus {@code <epochMillis> STATE - - <worker state>}.
 *
 * <p>Arguments (key=value): mode=polling|fanout stream= app= worker= kinesis=URI dynamodb=URI
 * events=PATH failover-ms= assignment-ms= checkpoint-ms=
 */
public final class KclWorker {
    private KclWorker() {}

    private static Writer events;
    private static final AtomicInteger PROCESSORS = new AtomicInteger();

    static synchronized void event(String line, boolean flush) {
        try {
            events.write(System.currentTimeMillis() + " " + line + "\n");
            if (flush) events.flush();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    public static void main(String[] argv) throws Exception {
        Map<String, String> a = new HashMap<>();
        for (String arg : argv) {
            int eq = arg.indexOf('=');
            a.put(arg.substring(0, eq), arg.substring(eq + 1));
        }
        String mode = a.get("mode");
        String stream = a.get("stream");
        String app = a.get("app");
        String worker = a.get("worker");
        URI kinesisUri = URI.create(a.get("kinesis"));
        long failover = Long.parseLong(a.getOrDefault("failover-ms", "5000"));
        long assignment = Long.parseLong(a.getOrDefault("assignment-ms", "2000"));
        long checkpointMs = Long.parseLong(a.getOrDefault("checkpoint-ms", "1000"));
        events = Support.appendWriter(Path.of(a.get("events")));

        KinesisAsyncClient kinesis;
        if (kinesisUri.getScheme().equals("https")) {
            // TLS with the suite's certificate, ALPN h2: the KCL's own KinesisClientUtil settings plus a trust manager.
            kinesis = Support.kinesisAsync(kinesisUri);
        } else {
            // What the KCL documentation says to do: HTTP/2 (here h2c with prior knowledge on http://).
            kinesis = KinesisClientUtil.createKinesisAsyncClient(KinesisAsyncClient.builder()
                    .endpointOverride(kinesisUri).region(Support.REGION).credentialsProvider(Support.CREDENTIALS));
        }
        DynamoDbAsyncClient dynamo = DynamoDbAsyncClient.builder()
                .endpointOverride(URI.create(a.get("dynamodb"))).region(Support.REGION)
                .credentialsProvider(Support.CREDENTIALS).build();
        // Required by ConfigsBuilder; never called because metrics go to the NullMetricsFactory.
        CloudWatchAsyncClient cloudWatch = CloudWatchAsyncClient.builder()
                .endpointOverride(URI.create("http://127.0.0.1:9")).region(Support.REGION)
                .credentialsProvider(Support.CREDENTIALS).build();

        ConfigsBuilder configs = new ConfigsBuilder(
                new SingleStreamTracker(stream,
                        InitialPositionInStreamExtended.newInitialPosition(InitialPositionInStream.TRIM_HORIZON)),
                app, kinesis, dynamo, cloudWatch, worker, () -> new Processor(checkpointMs));

        LeaseManagementConfig leases = configs.leaseManagementConfig()
                .failoverTimeMillis(failover)
                .leaseAssignmentIntervalMillis(assignment)
                .shardSyncIntervalMillis(5_000)
                .leasesRecoveryAuditorExecutionFrequencyMillis(5_000)
                .dynamoDbLockBasedLeaderLeaseDurationInMillis(failover)
                .dynamoDbLockBasedLeaderHeartbeatPeriodInMillis(Math.max(500, failover / 4))
                // Lease-count balancing (KCL 3.4.3+). The default, utilization-aware assignment
                // weighs workers by their CPU/memory/network metrics; with those disabled (no EC2,
                // ECS or EKS here) it only has throughput, NaN at first, and rebalanced a second
                // worker's share only late or not at all in trials. Counting leases spreads them at once.
                .leaseAssignmentStrategy(software.amazon.kinesis.leases.LeaseAssignmentStrategy.LEASE_COUNT_BASED)
                .gracefulLeaseHandoffConfig(LeaseManagementConfig.GracefulLeaseHandoffConfig.builder()
                        .gracefulLeaseHandoffTimeoutMillis(10_000).build());
        leases.workerUtilizationAwareAssignmentConfig()
                .workerMetricsReporterFreqInMillis(1_000)
                .inMemoryWorkerMetricsCaptureFrequencyMillis(1_000)
                // No EC2/ECS/EKS resource probing (the IMDS lookups would just time out here).
                .disableWorkerMetrics(true);

        CoordinatorConfig coordinator = configs.coordinatorConfig()
                .parentShardPollIntervalMillis(500)
                .shardConsumerDispatchPollIntervalMillis(250)
                .workerStateChangeListener(state -> event("STATE - - " + state, true));

        var retrieval = configs.retrievalConfig().retrievalSpecificConfig(mode.equals("polling")
                ? new PollingConfig(stream, kinesis).idleTimeBetweenReadsInMillis(200).maxRecords(1000)
                : new FanOutConfig(kinesis).streamName(stream).applicationName(app));

        Scheduler scheduler = new Scheduler(
                configs.checkpointConfig(),
                coordinator,
                leases,
                configs.lifecycleConfig(),
                configs.metricsConfig().metricsFactory(new NullMetricsFactory()),
                configs.processorConfig(),
                retrieval);

        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            event("STATE - - GRACEFUL_SHUTDOWN_REQUESTED", true);
            try {
                boolean done = scheduler.startGracefulShutdown().get(25, TimeUnit.SECONDS);
                event("STATE - - GRACEFUL_SHUTDOWN_" + (done ? "DONE" : "INCOMPLETE"), true);
            } catch (Exception e) {
                event("STATE - - GRACEFUL_SHUTDOWN_FAILED " + e.toString().replace('\n', ' '), true);
            }
        }, "graceful-shutdown"));

        Thread runner = new Thread(scheduler, "kcl-scheduler");
        runner.start();
        runner.join();
    }

    /** Writes what the KCL hands it; checkpoints after a batch at most once per checkpointMs. */
    static final class Processor implements ShardRecordProcessor {
        private final long checkpointMs;
        private final int id = PROCESSORS.incrementAndGet();
        private String shard;
        private long lastCheckpoint;
        private String lastSeq = "-";
        private long lastSub;

        Processor(long checkpointMs) {
            this.checkpointMs = checkpointMs;
        }

        private String prefix() {
            return shard + " " + id;
        }

        @Override
        public void initialize(InitializationInput input) {
            shard = input.shardId();
            lastCheckpoint = System.currentTimeMillis();
            event("INIT " + prefix() + " " + input.extendedSequenceNumber().sequenceNumber() + " "
                    + input.extendedSequenceNumber().subSequenceNumber(), true);
        }

        @Override
        public void processRecords(ProcessRecordsInput input) {
            List<KinesisClientRecord> records = input.records();
            if (records.isEmpty()) return;
            for (KinesisClientRecord r : records) {
                String data = StandardCharsets.UTF_8.decode(r.data().duplicate()).toString();
                event("REC " + prefix() + " " + r.sequenceNumber() + " " + r.subSequenceNumber() + " " + data, false);
            }
            lastSeq = records.get(records.size() - 1).sequenceNumber();
            lastSub = records.get(records.size() - 1).subSequenceNumber();
            event("BATCH " + prefix() + " " + records.size(), true);
            long now = System.currentTimeMillis();
            if (now - lastCheckpoint >= checkpointMs) {
                KinesisClientRecord last = records.get(records.size() - 1);
                try {
                    input.checkpointer().checkpoint(last.sequenceNumber(), last.subSequenceNumber());
                    event("CKPT " + prefix() + " " + last.sequenceNumber() + " " + last.subSequenceNumber(), true);
                    lastCheckpoint = now;
                } catch (Exception e) {
                    event("CKPTFAIL " + prefix() + " " + e.getClass().getSimpleName(), true);
                }
            }
        }

        @Override
        public void leaseLost(LeaseLostInput input) {
            event("LOST " + prefix(), true);
        }

        @Override
        public void shardEnded(ShardEndedInput input) {
            event("ENDING " + prefix(), true);
            try {
                input.checkpointer().checkpoint();
                event("END " + prefix(), true);
            } catch (Exception e) {
                event("CKPTFAIL " + prefix() + " " + e.getClass().getSimpleName(), true);
            }
        }

        @Override
        public void shutdownRequested(ShutdownRequestedInput input) {
            try {
                input.checkpointer().checkpoint();
                event("SHUTREQ " + prefix() + " " + lastSeq + " " + lastSub, true);
            } catch (Exception e) {
                event("CKPTFAIL " + prefix() + " " + e.getClass().getSimpleName(), true);
            }
        }
    }
}
