package interop;

import static interop.Support.check;
import static interop.Support.checkEquals;
import static interop.Support.waitActive;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import interop.Support.Server;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.kinesis.KinesisClient;
import software.amazon.awssdk.services.kinesis.model.PutRecordsRequestEntry;

/**
 * shardline's consumer library (`shardline consume`) and the Java KCL 3.x on one application (one
 * lease table, the KCL's schema, on moto): the Rust consumer checkpoints half the stream and stops, the
 * KCL resumes from those checkpoints; and the other way round, the KCL checkpoints and stops, the Rust
 * consumer resumes from the KCL's checkpoints. Neither processes a record the other checkpointed, and
 * together they process every record.
 */
public final class RustKclHandoff {
    private RustKclHandoff() {}

    static final int FAILOVER_MS = 3000;

    public static void main(String[] args) {
        Map<String, Support.Scenario> scenarios = new LinkedHashMap<>();
        scenarios.put("rust-then-kcl", RustKclHandoff::rustThenKcl);
        scenarios.put("kcl-then-rust", RustKclHandoff::kclThenRust);
        System.exit(Support.runScenarios("kcl-handoff", scenarios, args));
    }

    static void put(KinesisClient k, String stream, String prefix, int from, int to) {
        for (int start = from; start < to; start += 500) {
            List<PutRecordsRequestEntry> batch = new ArrayList<>();
            for (int i = start; i < Math.min(to, start + 500); i++) {
                batch.add(PutRecordsRequestEntry.builder().partitionKey("k" + (i % 101))
                        .data(SdkBytes.fromUtf8String(prefix + i)).build());
            }
            var out = k.putRecords(b -> b.streamName(stream).records(batch));
            checkEquals(0, out.failedRecordCount(), "failed records in PutRecords");
        }
    }

    /** `shardline consume` until it printed {@code max} records; returns their data. */
    static List<String> rustConsume(Server server, String stream, String app, int max) throws Exception {
        Path log = Support.workDir().resolve("rust-consume-" + app + "-" + System.nanoTime() + ".log");
        ProcessBuilder b = new ProcessBuilder(Support.env("SHARDLINE_BIN"), "consume", "--stream", stream,
                "--app", app, "--lease-table", app, "--dynamodb-endpoint", Support.env("INTEROP_DDB_ENDPOINT"),
                "--endpoint", server.http().toString(), "--from", "trim-horizon", "--format", "json",
                "--max-records", String.valueOf(max), "--idle-ms", "200", "--failover-ms", String.valueOf(FAILOVER_MS),
                "--worker-id", "rust-" + app)
                .redirectError(log.toFile());
        b.environment().put("AWS_ACCESS_KEY_ID", "interop");
        b.environment().put("AWS_SECRET_ACCESS_KEY", "interop-secret");
        Process p = b.start();
        List<String> data = new ArrayList<>();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = out.readLine()) != null) {
                int at = line.indexOf("\"data\":\"");
                check(at >= 0, "no data in %s", line);
                data.add(line.substring(at + 8, line.indexOf('"', at + 8)));
            }
        }
        check(p.waitFor(120, TimeUnit.SECONDS), "shardline consume did not finish");
        checkEquals(0, p.exitValue(), "shardline consume's exit status (log " + log + ": " + Support.tail(log, 1500) + ")");
        return data;
    }

    /** A KCL worker JVM (KclWorker, polling) on the same application; events in a file. */
    static final class Kcl implements AutoCloseable {
        final Process process;
        final Path events;
        final Path log;

        Kcl(Server server, String stream, String app) throws IOException {
            String base = "kcl-handoff-" + app + "-" + System.nanoTime();
            events = Support.workDir().resolve(base + ".events");
            log = Support.workDir().resolve(base + ".log");
            List<String> cmd = List.of(
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-cp", System.getProperty("java.class.path"),
                    "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                    "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                    "interop.KclWorker", "mode=polling", "stream=" + stream, "app=" + app, "worker=java-" + app,
                    "kinesis=" + server.http(), "dynamodb=" + Support.env("INTEROP_DDB_ENDPOINT"),
                    "events=" + events, "failover-ms=" + FAILOVER_MS, "assignment-ms=1000", "checkpoint-ms=0");
            process = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        }

        /** Lines of one kind from the event file: the fields after the time and the kind. */
        List<String[]> events(String kind) throws IOException {
            List<String[]> out = new ArrayList<>();
            if (!Files.exists(events)) return out;
            for (String line : Files.readAllLines(events)) {
                String[] f = line.split(" ");
                if (f.length > 2 && f[1].equals(kind)) out.add(f);
            }
            return out;
        }

        Set<String> records() throws IOException {
            Set<String> data = new HashSet<>();
            for (String[] f : events("REC")) if (f.length > 6) data.add(f[6]);
            return data;
        }

        int recordCount() throws IOException {
            return events("REC").size();
        }

        @Override
        public void close() throws InterruptedException {
            process.destroy(); // SIGTERM: the KCL's graceful shutdown checkpoints
            if (!process.waitFor(45, TimeUnit.SECONDS)) process.destroyForcibly();
        }
    }

    static String rustThenKcl() throws Exception {
        int n = 4000;
        String app = "handoff-r2j-" + System.currentTimeMillis();
        try (Server server = Server.start("handoff-r2j", false); KinesisClient k = Support.kinesis(server.http())) {
            String stream = "handoff-r2j";
            k.createStream(b -> b.streamName(stream).shardCount(4));
            waitActive(k, stream);
            put(k, stream, "r", 0, n);
            List<String> rust = rustConsume(server, stream, app, n / 2);
            checkEquals(n / 2, rust.size(), "records the Rust consumer printed");
            Set<String> rustSet = new HashSet<>(rust);
            checkEquals(rust.size(), rustSet.size(), "distinct records the Rust consumer printed");

            Set<String> kcl;
            List<String[]> inits;
            int kclCount;
            try (Kcl java = new Kcl(server, stream, app)) {
                kcl = Support.waitFor("the KCL to process the other half", Duration.ofSeconds(120), () -> {
                    try {
                        Set<String> got = java.records();
                        return got.size() >= n - n / 2 ? got : null;
                    } catch (IOException e) {
                        throw new IllegalStateException(e);
                    }
                });
                inits = java.events("INIT");
                kclCount = java.recordCount();
            }
            Set<String> overlap = new HashSet<>(kcl);
            overlap.retainAll(rustSet);
            check(overlap.isEmpty(), "the KCL processed %d records the Rust consumer had checkpointed, e.g. %s",
                    overlap.size(), overlap.stream().limit(3).toList());
            Set<String> all = new HashSet<>(rustSet);
            all.addAll(kcl);
            checkEquals(n, all.size(), "records processed by one or the other");
            // The KCL started each shard where the Rust consumer's checkpoint left it.
            int fromCheckpoint = 0;
            for (String[] f : inits) if (!f[4].equals("TRIM_HORIZON")) fromCheckpoint++;
            check(fromCheckpoint > 0, "no KCL shard started from a Rust checkpoint: %s",
                    inits.stream().map(f -> String.join(" ", f)).toList());
            return String.format("records=%d rust=%d kcl=%d kcl-duplicates=%d kcl-shards-from-rust-checkpoints=%d/%d",
                    n, rust.size(), kcl.size(), kclCount - kcl.size(), fromCheckpoint, inits.size());
        }
    }

    static String kclThenRust() throws Exception {
        int half = 2000;
        String app = "handoff-j2r-" + System.currentTimeMillis();
        try (Server server = Server.start("handoff-j2r", false); KinesisClient k = Support.kinesis(server.http())) {
            String stream = "handoff-j2r";
            k.createStream(b -> b.streamName(stream).shardCount(4));
            waitActive(k, stream);
            put(k, stream, "a", 0, half);
            Set<String> kcl;
            try (Kcl java = new Kcl(server, stream, app)) {
                kcl = Support.waitFor("the KCL to process the first half", Duration.ofSeconds(120), () -> {
                    try {
                        Set<String> got = java.records();
                        return got.size() >= half ? got : null;
                    } catch (IOException e) {
                        throw new IllegalStateException(e);
                    }
                });
                // Checkpoints come with each batch (checkpoint-ms=0); let the last ones land.
                Support.sleep(1500);
            }
            checkEquals(half, kcl.size(), "records the KCL processed");
            put(k, stream, "b", half, 2 * half);
            // The KCL keeps its leases' owner at shutdown: the Rust worker takes them once their counters stood
            // still for the failover time.
            long start = System.nanoTime();
            List<String> rust = rustConsume(server, stream, app, half);
            double secs = Support.secondsSince(start);
            Set<String> rustSet = new HashSet<>(rust);
            checkEquals(half, rustSet.size(), "distinct records the Rust consumer printed");
            for (String d : rustSet) check(d.startsWith("b"), "the Rust consumer processed %s, which the KCL had checkpointed", d);
            return String.format("records=%d kcl=%d rust=%d rust-took-over-in=%.1fs", 2 * half, kcl.size(), rust.size(), secs);
        }
    }
}
