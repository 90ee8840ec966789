package interop;

import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.Writer;
import java.math.BigInteger;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;

import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.interceptor.Context;
import software.amazon.awssdk.core.interceptor.ExecutionAttributes;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.http.Protocol;
import software.amazon.awssdk.http.ProtocolNegotiation;
import software.amazon.awssdk.http.apache.ApacheHttpClient;
import software.amazon.awssdk.http.nio.netty.Http2Configuration;
import software.amazon.awssdk.http.nio.netty.NettyNioAsyncHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.kinesis.KinesisAsyncClient;
import software.amazon.awssdk.services.kinesis.KinesisClient;
import software.amazon.awssdk.services.kinesis.model.DescribeStreamSummaryResponse;
import software.amazon.awssdk.services.kinesis.model.ListShardsResponse;
import software.amazon.awssdk.services.kinesis.model.Shard;
import software.amazon.awssdk.services.kinesis.model.StreamStatus;

/**
 * What every scenario shares: the shardline process, SDK clients pointed at it, bounded waits,
 * assertions and the one-line-per-scenario report.
 *
 * <p>Environment (set by tests/interop/run): SHARDLINE_BIN (the server), INTEROP_TLS_CERT and
 * INTEROP_TLS_KEY (a PEM certificate for localhost/127.0.0.1 made by shardline itself, given to
 * every server started here with --tls-cert/--tls-key so the clients can trust it properly, with
 * hostname verification on), INTEROP_WORK (a directory for logs), INTEROP_RESULTS (a file the
 * result lines are appended to).
 */
final class Support {
    private Support() {}

    static final Region REGION = Region.US_EAST_1;
    static final String ACCOUNT = "000000000000";
    static final AwsCredentialsProvider CREDENTIALS =
            StaticCredentialsProvider.create(AwsBasicCredentials.create("interop", "interop-secret"));
    static final BigInteger MAX_HASH_KEY = BigInteger.ONE.shiftLeft(128).subtract(BigInteger.ONE);

    static String env(String name) {
        String value = System.getenv(name);
        if (value == null || value.isEmpty()) {
            throw new IllegalStateException("environment variable " + name + " is required (tests/interop/run sets it)");
        }
        return value;
    }

    static Path workDir() {
        Path dir = Path.of(env("INTEROP_WORK"));
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return dir;
    }

    // ---------------------------------------------------------------- assertions and waits

    static void check(boolean condition, String format, Object... args) {
        if (!condition) {
            throw new AssertionError(String.format(Locale.ROOT, format, args));
        }
    }

    static void checkEquals(Object expected, Object actual, String what) {
        if (expected == null ? actual != null : !expected.equals(actual)) {
            throw new AssertionError(what + ": expected <" + expected + "> but was <" + actual + ">");
        }
    }

    /** Polls until {@code poll} returns non-null (and not FALSE); fails after {@code timeout}. */
    static <T> T waitFor(String what, Duration timeout, Supplier<T> poll) {
        return waitFor(what, timeout, poll, () -> null);
    }

    /** {@link #waitFor(String, Duration, Supplier)}, saying on timeout what {@code why} last reported. */
    static <T> T waitFor(String what, Duration timeout, Supplier<T> poll, Supplier<String> why) {
        long deadline = System.nanoTime() + timeout.toNanos();
        RuntimeException last = null;
        while (true) {
            try {
                T value = poll.get();
                if (value != null && !Boolean.FALSE.equals(value)) {
                    return value;
                }
                last = null;
            } catch (RuntimeException e) {
                last = e;
            }
            if (System.nanoTime() > deadline) {
                String reason = why.get();
                AssertionError error = new AssertionError("timed out after " + timeout.toSeconds() + " s waiting for " + what
                        + (reason == null ? "" : " (last seen: " + reason + ")")
                        + (last == null ? "" : " (last error: " + last + ")"));
                if (last != null) error.initCause(last);
                throw error;
            }
            sleep(100);
        }
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    static BigInteger hashKeyOf(String partitionKey) {
        try {
            byte[] digest = MessageDigest.getInstance("MD5").digest(partitionKey.getBytes(StandardCharsets.UTF_8));
            return new BigInteger(1, digest);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static boolean contains(Shard shard, BigInteger hashKey) {
        return new BigInteger(shard.hashKeyRange().startingHashKey()).compareTo(hashKey) <= 0
                && new BigInteger(shard.hashKeyRange().endingHashKey()).compareTo(hashKey) >= 0;
    }

    static String stackTrace(Throwable t) {
        StringWriter out = new StringWriter();
        t.printStackTrace(new PrintWriter(out));
        return out.toString();
    }

    // ---------------------------------------------------------------- scenario report

    interface Scenario {
        /** Runs the scenario; returns the key numbers for the report line. */
        String run() throws Exception;
    }

    /**
     * Runs the named scenarios in order, printing one line each ("PASS name (secs) numbers" or
     * "FAIL name (secs) reason") and appending it to $INTEROP_RESULTS. Returns the process exit code.
     */
    static int runScenarios(String group, Map<String, Scenario> scenarios, String[] only) {
        List<String> names = new ArrayList<>(scenarios.keySet());
        if (only.length > 0) names = List.of(only);
        int failed = 0;
        for (String name : names) {
            Scenario scenario = scenarios.get(name);
            if (scenario == null) {
                System.err.println("unknown scenario " + name + "; known: " + scenarios.keySet());
                return 2;
            }
            long start = System.nanoTime();
            String line;
            try {
                String numbers = scenario.run();
                line = String.format(Locale.ROOT, "PASS  %-34s %6.1fs  %s", group + "/" + name, secondsSince(start), numbers);
            } catch (Throwable t) {
                failed++;
                System.err.println("---- " + group + "/" + name + " failed:");
                t.printStackTrace();
                String reason = String.valueOf(t.getMessage()).replace('\n', ' ');
                if (reason.length() > 600) reason = reason.substring(0, 600) + "...";
                line = String.format(Locale.ROOT, "FAIL  %-34s %6.1fs  %s: %s", group + "/" + name, secondsSince(start),
                        t.getClass().getSimpleName(), reason);
            } finally {
                Server.stopAll();
            }
            System.out.println(line);
            System.out.flush();
            String results = System.getenv("INTEROP_RESULTS");
            if (results != null) {
                try {
                    Files.writeString(Path.of(results), line + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
                } catch (IOException e) {
                    System.err.println("cannot append to " + results + ": " + e);
                }
            }
        }
        return failed == 0 ? 0 : 1;
    }

    static double secondsSince(long startNanos) {
        return (System.nanoTime() - startNanos) / 1e9;
    }

    // ---------------------------------------------------------------- the server

    /** One `shardline serve` process on 127.0.0.1, stopped by {@link #close()} or at the end of the scenario. */
    static final class Server implements AutoCloseable {
        private static final List<Server> RUNNING = new CopyOnWriteArrayList<>();
        private static final Pattern LISTENING =
                Pattern.compile("^shardline listening on (https?)://127\\.0\\.0\\.1:(\\d+)\\b.*");
        private static int counter;

        static {
            Runtime.getRuntime().addShutdownHook(new Thread(Server::stopAll));
        }

        final Process process;
        final int port;
        final int tlsPort;
        final Path log;

        private Server(Process process, int port, int tlsPort, Path log) {
            this.process = process;
            this.port = port;
            this.tlsPort = tlsPort;
            this.log = log;
        }

        /**
         * Starts `shardline serve --in-memory --port 0` with the creation/deletion delays at 0, the
         * throughput limits off (unless {@code extra} names --limits), and, with {@code tls}, an HTTPS
         * listener on a free port serving the suite's certificate.
         */
        static Server start(String name, boolean tls, String... extra) throws IOException {
            List<String> cmd = new ArrayList<>(List.of(env("SHARDLINE_BIN"), "serve", "--host", "127.0.0.1", "--port", "0",
                    "--in-memory", "--create-delay-ms", "0", "--delete-delay-ms", "0"));
            if (!List.of(extra).contains("--limits")) {
                cmd.addAll(List.of("--limits", "off"));
            }
            if (tls) {
                cmd.addAll(List.of("--tls-port", "0", "--tls-cert", env("INTEROP_TLS_CERT"), "--tls-key", env("INTEROP_TLS_KEY")));
            }
            cmd.addAll(List.of(extra));
            Path log;
            synchronized (Server.class) {
                log = workDir().resolve("shardline-" + name + "-" + (++counter) + ".log");
            }
            ProcessBuilder builder = new ProcessBuilder(cmd).redirectError(log.toFile());
            Process process = builder.start();
            LinkedBlockingQueue<String> lines = new LinkedBlockingQueue<>();
            Thread reader = new Thread(() -> {
                try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = in.readLine()) != null) {
                        lines.add(line);
                    }
                } catch (IOException ignored) {
                    // the process ended
                }
            }, "shardline-stdout-" + name);
            reader.setDaemon(true);
            reader.start();
            int port = -1;
            int tlsPort = -1;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            try {
                while (port < 0 || (tls && tlsPort < 0)) {
                    long left = deadline - System.nanoTime();
                    String line = left > 0 ? lines.poll(left, TimeUnit.NANOSECONDS) : null;
                    if (line == null) {
                        process.destroyForcibly();
                        throw new IOException("shardline did not report its port(s) within 15 s; command " + cmd
                                + "; stderr: " + tail(log, 2000));
                    }
                    Matcher m = LISTENING.matcher(line);
                    if (m.matches()) {
                        if (m.group(1).equals("http")) port = Integer.parseInt(m.group(2));
                        else tlsPort = Integer.parseInt(m.group(2));
                    }
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
                throw new IOException("interrupted", e);
            }
            Server server = new Server(process, port, tlsPort, log);
            RUNNING.add(server);
            return server;
        }

        URI http() {
            return URI.create("http://127.0.0.1:" + port);
        }

        URI https() {
            check(tlsPort > 0, "server started without --tls-port");
            return URI.create("https://127.0.0.1:" + tlsPort);
        }

        /** POST /_shardline/clock?advance_ms=N (needs --test-clock). */
        void advanceClock(long millis) throws Exception {
            HttpResponse<String> response = HttpClient.newHttpClient().send(
                    HttpRequest.newBuilder(URI.create(http() + "/_shardline/clock?advance_ms=" + millis))
                            .POST(HttpRequest.BodyPublishers.noBody()).timeout(Duration.ofSeconds(10)).build(),
                    HttpResponse.BodyHandlers.ofString());
            check(response.statusCode() / 100 == 2, "clock advance answered %d: %s", response.statusCode(), response.body());
        }

        /** GET /metrics, as text. */
        String metrics() throws Exception {
            return HttpClient.newHttpClient().send(
                    HttpRequest.newBuilder(URI.create(http() + "/metrics")).timeout(Duration.ofSeconds(10)).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
        }

        @Override
        public void close() {
            RUNNING.remove(this);
            process.destroy();
            try {
                if (!process.waitFor(5, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                    process.waitFor(5, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }

        static void stopAll() {
            for (Server server : RUNNING) {
                server.close();
            }
        }
    }

    /** Sums a Prometheus metric over its labels. */
    static double metricSum(String text, String name) {
        double sum = 0;
        for (String line : text.split("\n")) {
            if (line.startsWith("#")) continue;
            int brace = line.indexOf('{');
            int space = line.lastIndexOf(' ');
            if (space < 0) continue;
            String metric = brace >= 0 ? line.substring(0, brace) : line.substring(0, line.indexOf(' '));
            if (metric.equals(name) || metric.equals(name + "_total")) {
                sum += Double.parseDouble(line.substring(space + 1).trim());
            }
        }
        return sum;
    }

    static String tail(Path file, int chars) {
        try {
            String text = Files.readString(file);
            return text.length() <= chars ? text : "..." + text.substring(text.length() - chars);
        } catch (IOException e) {
            return "(cannot read " + file + ": " + e + ")";
        }
    }

    // ---------------------------------------------------------------- clients

    /** A trust manager that trusts exactly the suite's certificate (hostname verification stays on). */
    static TrustManager[] trustManagers() {
        try {
            byte[] pem = Files.readAllBytes(Path.of(env("INTEROP_TLS_CERT")));
            CertificateFactory factory = CertificateFactory.getInstance("X.509");
            Collection<? extends Certificate> certs = factory.generateCertificates(new ByteArrayInputStream(pem));
            KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
            store.load(null, null);
            int i = 0;
            for (Certificate cert : certs) {
                store.setCertificateEntry("shardline-" + (i++), cert);
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(store);
            return tmf.getTrustManagers();
        } catch (Exception e) {
            throw new IllegalStateException("cannot load " + System.getenv("INTEROP_TLS_CERT"), e);
        }
    }

    /** Records the Content-Type and HTTP method of every request a client sends. */
    static final class WireRecorder implements ExecutionInterceptor {
        final List<String> contentTypes = new CopyOnWriteArrayList<>();
        final List<String> targets = new CopyOnWriteArrayList<>();

        @Override
        public void beforeTransmission(Context.BeforeTransmission context, ExecutionAttributes attributes) {
            contentTypes.add(context.httpRequest().firstMatchingHeader("Content-Type").orElse("(none)"));
            targets.add(context.httpRequest().firstMatchingHeader("X-Amz-Target").orElse("(none)"));
        }
    }

    /** The usual synchronous client (Apache HTTP client, HTTP/1.1). */
    static KinesisClient kinesis(URI endpoint, ExecutionInterceptor... interceptors) {
        return KinesisClient.builder()
                .endpointOverride(endpoint)
                .region(REGION)
                .credentialsProvider(CREDENTIALS)
                .httpClientBuilder(ApacheHttpClient.builder())
                .overrideConfiguration(c -> {
                    for (ExecutionInterceptor i : interceptors) c.addExecutionInterceptor(i);
                })
                .build();
    }

    /**
     * The async client as the KCL documentation builds it (KinesisClientUtil's HTTP/2 settings).
     * Over https it trusts the suite's certificate and negotiates h2 by ALPN; over http it speaks
     * HTTP/2 with prior knowledge (h2c).
     */
    static KinesisAsyncClient kinesisAsync(URI endpoint) {
        NettyNioAsyncHttpClient.Builder http = NettyNioAsyncHttpClient.builder()
                .maxConcurrency(Integer.MAX_VALUE)
                .http2Configuration(Http2Configuration.builder()
                        .initialWindowSize(512 * 1024)
                        .healthCheckPingPeriod(Duration.ofSeconds(60))
                        .build())
                .protocol(Protocol.HTTP2);
        if (endpoint.getScheme().equals("https")) {
            TrustManager[] tms = trustManagers();
            http.tlsTrustManagersProvider(() -> tms).protocolNegotiation(ProtocolNegotiation.ALPN);
        }
        return KinesisAsyncClient.builder()
                .endpointOverride(endpoint)
                .region(REGION)
                .credentialsProvider(CREDENTIALS)
                .httpClientBuilder(http)
                .build();
    }

    // ---------------------------------------------------------------- stream helpers

    static void waitActive(KinesisClient kinesis, String stream) {
        waitFor("stream " + stream + " ACTIVE", Duration.ofSeconds(30), () -> {
            DescribeStreamSummaryResponse r = kinesis.describeStreamSummary(b -> b.streamName(stream));
            return r.streamDescriptionSummary().streamStatus() == StreamStatus.ACTIVE ? r : null;
        });
    }

    static List<Shard> listShards(KinesisClient kinesis, String stream) {
        List<Shard> shards = new ArrayList<>();
        ListShardsResponse page = kinesis.listShards(b -> b.streamName(stream));
        shards.addAll(page.shards());
        while (page.nextToken() != null) {
            String token = page.nextToken();
            page = kinesis.listShards(b -> b.nextToken(token));
            shards.addAll(page.shards());
        }
        return shards;
    }

    static Map<String, Shard> shardsById(Collection<Shard> shards) {
        Map<String, Shard> byId = new LinkedHashMap<>();
        for (Shard s : shards) byId.put(s.shardId(), s);
        return byId;
    }

    static Writer appendWriter(Path path) throws IOException {
        return Files.newBufferedWriter(path, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }
}
