package interop;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import com.google.common.util.concurrent.FutureCallback;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.MoreExecutors;

import software.amazon.kinesis.producer.KinesisProducer;
import software.amazon.kinesis.producer.KinesisProducerConfiguration;
import software.amazon.kinesis.producer.UserRecordResult;

/**
 * The KPL's side of `scripts/bench-producer` (not a test): puts N user records of a given size
 * through the real KPL to an existing stream on shardline's HTTPS port, as fast as the KPL takes
 * them (at most {@code outstanding} unanswered at once, as a KPL application bounds its backlog),
 * and prints one JSON line: records a second from the first put until every record was answered,
 * failures, and the peak resident memory of the JVM plus the KPL's native daemon (sampled every
 * 100 ms from /proc).
 *
 * <p>Arguments: tlsPort stream records recordSize aggregation(true|false) rateLimit
 */
public final class KplBench {
    private KplBench() {}

    /** VmRSS of a process in KiB, 0 if it is gone. */
    static long rssKib(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        } catch (IOException | NumberFormatException e) {
            return 0;
        }
        return 0;
    }

    /** Resident memory of this JVM and everything it started (the KPL daemon), in KiB. */
    static long treeRssKib() {
        long total = rssKib(ProcessHandle.current().pid());
        for (ProcessHandle h : ProcessHandle.current().descendants().toList()) total += rssKib(h.pid());
        return total;
    }

    public static void main(String[] args) throws Exception {
        int tlsPort = Integer.parseInt(args[0]);
        String stream = args[1];
        long records = Long.parseLong(args[2]);
        int size = Integer.parseInt(args[3]);
        boolean aggregation = Boolean.parseBoolean(args[4]);
        long rateLimit = Long.parseLong(args[5]);
        long outstanding = 100_000; // as many as shardline-producer buffers by default

        Path tmp = Path.of(System.getenv().getOrDefault("INTEROP_KPL_TMP", System.getProperty("java.io.tmpdir")));
        Files.createDirectories(tmp);
        KinesisProducerConfiguration config = new KinesisProducerConfiguration()
                .setKinesisEndpoint("127.0.0.1")
                .setKinesisPort(tlsPort)
                .setVerifyCertificate(false)
                .setRegion("us-east-1")
                .setCredentialsProvider(Support.CREDENTIALS)
                .setMetricsLevel("none")
                .setAggregationEnabled(aggregation)
                .setRecordMaxBufferedTime(100)
                .setRecordTtl(120_000)
                .setRequestTimeout(30_000)
                .setRateLimit(rateLimit)
                .setLogLevel("warning")
                .setTempDirectory(tmp.toString());

        long rssStart = treeRssKib();
        AtomicLong peak = new AtomicLong(rssStart);
        Thread sampler = new Thread(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                peak.accumulateAndGet(treeRssKib(), Math::max);
                try {
                    Thread.sleep(100);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "rss-sampler");
        sampler.setDaemon(true);
        sampler.start();

        KinesisProducer kpl = new KinesisProducer(config);
        Random random = new Random(7);
        byte[] pool = new byte[size * 64 + 4096];
        random.nextBytes(pool);
        AtomicLong ok = new AtomicLong();
        AtomicLong failed = new AtomicLong();
        FutureCallback<UserRecordResult> count = new FutureCallback<>() {
            @Override
            public void onSuccess(UserRecordResult r) {
                (r.isSuccessful() ? ok : failed).incrementAndGet();
            }

            @Override
            public void onFailure(Throwable t) {
                failed.incrementAndGet();
            }
        };
        long start = System.nanoTime();
        for (long i = 0; i < records; i++) {
            while (kpl.getOutstandingRecordsCount() > outstanding) Thread.sleep(1);
            String key = Long.toHexString(random.nextLong()) + Long.toHexString(random.nextLong());
            int offset = random.nextInt(pool.length - size);
            ListenableFuture<UserRecordResult> f = kpl.addUserRecord(stream, key, ByteBuffer.wrap(pool, offset, size));
            Futures.addCallback(f, count, MoreExecutors.directExecutor());
        }
        kpl.flushSync();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(300);
        while (ok.get() + failed.get() < records && System.nanoTime() < deadline) Thread.sleep(5);
        double secs = (System.nanoTime() - start) / 1e9;
        sampler.interrupt();
        long rssEnd = treeRssKib();
        kpl.destroy();
        List<String> fields = new ArrayList<>();
        fields.add(String.format(Locale.ROOT, "\"records\":%d", records));
        fields.add(String.format(Locale.ROOT, "\"record_size\":%d", size));
        fields.add(String.format(Locale.ROOT, "\"aggregation\":%b", aggregation));
        fields.add(String.format(Locale.ROOT, "\"placed\":%d", ok.get()));
        fields.add(String.format(Locale.ROOT, "\"failed\":%d", failed.get()));
        fields.add(String.format(Locale.ROOT, "\"seconds\":%.3f", secs));
        fields.add(String.format(Locale.ROOT, "\"records_per_sec\":%.1f", ok.get() / secs));
        fields.add(String.format(Locale.ROOT, "\"rss_start_mib\":%.1f", rssStart / 1024.0));
        fields.add(String.format(Locale.ROOT, "\"rss_peak_mib\":%.1f", Math.max(peak.get(), rssEnd) / 1024.0));
        fields.add(String.format(Locale.ROOT, "\"rss_end_mib\":%.1f", rssEnd / 1024.0));
        System.out.println("{" + String.join(",", fields) + "}");
        System.exit(ok.get() == records ? 0 : 1);
    }
}
