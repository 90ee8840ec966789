package interop;

import static interop.Support.check;
import static interop.Support.checkEquals;
import static interop.Support.sleep;
import static interop.Support.waitActive;
import static interop.Support.waitFor;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.math.BigInteger;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

import interop.Support.Server;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.ScanResponse;
import software.amazon.awssdk.services.kinesis.KinesisClient;
import software.amazon.awssdk.services.kinesis.model.PutRecordsRequestEntry;
import software.amazon.awssdk.services.kinesis.model.PutRecordsResponse;
import software.amazon.awssdk.services.kinesis.model.PutRecordsResultEntry;
import software.amazon.awssdk.services.kinesis.model.Shard;

/**
 * A real KCL 3.x application against shardline: two worker JVMs ({@link KclWorker}) on a 4-shard
 * stream, leases in the DynamoDB-compatible server the runner started ($INTEROP_DDB_ENDPOINT),
 * records produced throughout. During the run: SplitShard, MergeShards, kill -9 of the worker
 * holding the most leases (then it comes back), and a graceful restart of both workers. Every
 * claim is checked afterwards from the workers' event files, the producer's PutRecords answers
 * and the lease table.
 */
public final class KclScenario {
    private KclScenario() {}

    static final long FAILOVER_MS = 5_000;
    static final long ASSIGNMENT_MS = 2_000;
    static final long CHECKPOINT_MS = 1_000;
    static final int SUBSCRIPTION_SECS = 5;

    public static void main(String[] args) {
        Map<String, Support.Scenario> scenarios = new LinkedHashMap<>();
        scenarios.put("polling", () -> new KclScenario.Run("polling").run());
        scenarios.put("fanout", () -> new KclScenario.Run("fanout").run());
        System.exit(Support.runScenarios("java-kcl", scenarios, args));
    }

    // ------------------------------------------------------------------------------ events

    /** One line of a worker's event file. */
    record Ev(long t, String file, String type, String shard, String pid, String seq, long sub, String data) {
        String tenure() {
            return file + "#" + pid;
        }
    }

    /** All event files of the run, read incrementally (complete lines only). */
    static final class Events {
        private final Map<Path, Long> offsets = new LinkedHashMap<>();
        private final List<Ev> all = new ArrayList<>();

        synchronized void add(Path file) {
            offsets.putIfAbsent(file, 0L);
        }

        synchronized List<Ev> refresh() {
            for (Map.Entry<Path, Long> e : offsets.entrySet()) {
                Path file = e.getKey();
                if (!file.toFile().exists()) continue;
                try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "r")) {
                    long len = raf.length();
                    long off = e.getValue();
                    if (len <= off) continue;
                    byte[] buf = new byte[(int) (len - off)];
                    raf.seek(off);
                    raf.readFully(buf);
                    int lastNl = -1;
                    for (int i = buf.length - 1; i >= 0; i--) {
                        if (buf[i] == '\n') {
                            lastNl = i;
                            break;
                        }
                    }
                    if (lastNl < 0) continue;
                    String text = new String(buf, 0, lastNl, StandardCharsets.UTF_8);
                    for (String line : text.split("\n")) {
                        Ev ev = parse(file.getFileName().toString(), line);
                        if (ev != null) all.add(ev);
                    }
                    e.setValue(off + lastNl + 1);
                } catch (IOException ex) {
                    throw new IllegalStateException(ex);
                }
            }
            return all;
        }

        private static Ev parse(String file, String line) {
            String[] f = line.split(" ");
            if (f.length < 4) return null;
            long t = Long.parseLong(f[0]);
            String type = f[1];
            switch (type) {
                case "REC":
                    return new Ev(t, file, type, f[2], f[3], f[4], Long.parseLong(f[5]), f.length > 6 ? f[6] : "");
                case "INIT":
                case "CKPT":
                case "SHUTREQ":
                    return new Ev(t, file, type, f[2], f[3], f[4], Long.parseLong(f[5]), null);
                case "STATE":
                    return new Ev(t, file, type, null, null, null, 0, String.join(" ", List.of(f).subList(4, f.length)));
                default:
                    return new Ev(t, file, type, f[2], f[3], null, 0, null);
            }
        }
    }

    // ------------------------------------------------------------------------------ producer

    record Produced(String shard, BigInteger seq) {}

    /** Puts records "r<n>" with random partition keys and remembers where each one landed. */
    static final class Producer {
        final KinesisClient kinesis;
        final String stream;
        final Map<String, Produced> byData = new ConcurrentHashMap<>();
        final AtomicInteger next = new AtomicInteger();
        private volatile boolean running;
        private Thread thread;
        private volatile Throwable failure;

        Producer(KinesisClient kinesis, String stream) {
            this.kinesis = kinesis;
            this.stream = stream;
        }

        void put(int count) {
            for (int done = 0; done < count; done += 500) putBatch(Math.min(500, count - done));
        }

        private void putBatch(int count) {
            List<PutRecordsRequestEntry> pending = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                pending.add(PutRecordsRequestEntry.builder().partitionKey(UUID.randomUUID().toString())
                        .data(SdkBytes.fromUtf8String("r" + next.getAndIncrement())).build());
            }
            for (int attempt = 0; !pending.isEmpty(); attempt++) {
                check(attempt < 20, "PutRecords kept failing: %d entries left", pending.size());
                List<PutRecordsRequestEntry> batch = pending;
                PutRecordsResponse r = kinesis.putRecords(b -> b.streamName(stream).records(batch));
                List<PutRecordsRequestEntry> retry = new ArrayList<>();
                for (int i = 0; i < batch.size(); i++) {
                    PutRecordsResultEntry e = r.records().get(i);
                    if (e.errorCode() != null) {
                        retry.add(batch.get(i));
                    } else {
                        byData.put(batch.get(i).data().asUtf8String(), new Produced(e.shardId(), new BigInteger(e.sequenceNumber())));
                    }
                }
                pending = retry;
                if (!pending.isEmpty()) sleep(100);
            }
        }

        /** About {@code perSecond} records a second in batches every 100 ms, until {@link #stop()}. */
        void start(int perSecond) {
            running = true;
            thread = new Thread(() -> {
                try {
                    while (running) {
                        long start = System.nanoTime();
                        put(perSecond / 10);
                        long left = 100 - (System.nanoTime() - start) / 1_000_000;
                        if (left > 0) Thread.sleep(left);
                    }
                } catch (Throwable t) {
                    failure = t;
                }
            }, "producer");
            thread.start();
        }

        void stop() throws InterruptedException {
            running = false;
            if (thread != null) {
                thread.join(30_000);
                check(!thread.isAlive(), "producer did not stop");
            }
            if (failure != null) throw new AssertionError("producer failed: " + failure, failure);
        }

        void checkAlive() {
            if (failure != null) throw new AssertionError("producer failed: " + failure, failure);
        }

        /** Per shard, the produced sequence numbers in order. */
        Map<String, List<BigInteger>> byShard() {
            Map<String, List<BigInteger>> m = new TreeMap<>();
            for (Produced p : byData.values()) m.computeIfAbsent(p.shard, s -> new ArrayList<>()).add(p.seq);
            for (List<BigInteger> l : m.values()) Collections.sort(l);
            return m;
        }
    }

    // ------------------------------------------------------------------------------ workers

    /** A worker JVM; each start is a new "run" with its own event file. */
    static final class Worker {
        final Run run;
        final String id;
        Process process;
        int runs;
        Path eventsFile;
        Path logFile;

        Worker(Run run, String id) {
            this.run = run;
            this.id = id;
        }

        void start() throws IOException {
            runs++;
            String base = "kcl-" + run.mode + "-" + id + "-run" + runs;
            eventsFile = Support.workDir().resolve(base + ".events");
            logFile = Support.workDir().resolve(base + ".log");
            run.events.add(eventsFile);
            List<String> cmd = new ArrayList<>(List.of(
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-cp", System.getProperty("java.class.path"),
                    // Small, quick-starting JVMs: the machine has two cores for everything.
                    "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto",
                    "-Dorg.slf4j.simpleLogger.defaultLogLevel=" + System.getProperty("interop.kcl.log", "warn"),
                    "-Dorg.slf4j.simpleLogger.showDateTime=true",
                    "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
                    "interop.KclWorker",
                    "mode=" + run.mode, "stream=" + run.stream, "app=" + run.app, "worker=" + id,
                    "kinesis=" + run.kinesisEndpoint, "dynamodb=" + run.dynamoEndpoint,
                    "events=" + eventsFile,
                    "failover-ms=" + FAILOVER_MS, "assignment-ms=" + ASSIGNMENT_MS, "checkpoint-ms=" + CHECKPOINT_MS));
            process = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(logFile.toFile()).start();
            run.processes.add(process);
        }

        void kill9() throws InterruptedException {
            process.destroyForcibly(); // SIGKILL
            check(process.waitFor(10, TimeUnit.SECONDS), "worker %s did not die after SIGKILL", id);
        }

        /** SIGTERM: the worker's shutdown hook runs the KCL's graceful shutdown. */
        void terminate() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(45, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new AssertionError("worker " + id + " did not finish its graceful shutdown in 45 s; log "
                        + logFile);
            }
        }

        String file() {
            return eventsFile.getFileName().toString();
        }
    }

    // ------------------------------------------------------------------------------ the run

    static final class Run {
        final String mode;
        final String stream;
        final String app;
        final Events events = new Events();
        final List<Process> processes = new ArrayList<>();
        URI kinesisEndpoint;
        URI dynamoEndpoint;

        Run(String mode) {
            this.mode = mode;
            this.stream = "kcl-" + mode;
            // A fresh application (lease table) per run: no stale leader lock or leases from an earlier run.
            this.app = "interop-kcl-" + mode + "-" + System.currentTimeMillis();
        }

        String run() throws Exception {
            dynamoEndpoint = URI.create(Support.env("INTEROP_DDB_ENDPOINT"));
            boolean fanout = mode.equals("fanout");
            // Fan-out: TLS + ALPN h2, and SubscribeToShard sessions of 5 s so the KCL resubscribes
            // from its continuation several times. Polling: h2c (HTTP/2 prior knowledge) on http://.
            Server server = fanout
                    ? Server.start("kcl-" + mode, true, "--subscription-secs", String.valueOf(SUBSCRIPTION_SECS))
                    : Server.start("kcl-" + mode, false);
            kinesisEndpoint = fanout ? server.https() : server.http();
            Worker a = new Worker(this, "worker-a");
            Worker b = new Worker(this, "worker-b");
            try (KinesisClient k = Support.kinesis(server.http());
                 DynamoDbClient ddb = DynamoDbClient.builder().endpointOverride(dynamoEndpoint).region(Support.REGION)
                         .credentialsProvider(Support.CREDENTIALS).build()) {
                String numbers = scenario(k, ddb, a, b);
                if (fanout) {
                    // The KCL subscribed again whenever shardline ended a session (--subscription-secs).
                    long tenures = events.all.stream().filter(e -> e.type.equals("INIT")).count();
                    double subscriptions = Support.metricSum(server.metrics(), "SubscribeToShard_Success");
                    check(subscriptions > tenures, "%s SubscribeToShard calls for %d shard leases: the KCL never resubscribed",
                            subscriptions, tenures);
                    numbers += String.format(Locale.ROOT, " subscriptions=%.0f", subscriptions);
                }
                return numbers;
            } finally {
                for (Process p : processes) {
                    if (p.isAlive()) p.destroyForcibly();
                }
                for (Process p : processes) p.waitFor(10, TimeUnit.SECONDS);
                server.close();
            }
        }

        private String scenario(KinesisClient k, DynamoDbClient ddb, Worker a, Worker b) throws Exception {
            long t0 = System.nanoTime();
            List<String> timeline = new ArrayList<>();
            k.createStream(r -> r.streamName(stream).shardCount(4));
            waitActive(k, stream);
            List<Shard> initial = Support.listShards(k, stream);
            checkEquals(4, initial.size(), "shards");
            Producer producer = new Producer(k, stream);
            producer.put(400);
            producer.start(250);

            // 1. Two workers share the 4 shards and process records from TRIM_HORIZON. The second one
            //    starts once the first is up: two KCL 3.5.1 workers starting together on a new
            //    application race to create the "Migration3.0" coordinator item in the lease table;
            //    the loser's retry then fails for good ("leaderDecider is null", then
            //    "AssignmentMode is not initialized") until it gives up after 20 attempts. A KCL
            //    re-initialization bug (amazon-kinesis-client PR #1804 is to fix it after 3.5.1), not
            //    a Kinesis one.
            a.start();
            waitStarted(a);
            b.start();
            waitFor("all 4 shards initialized and processing", Duration.ofSeconds(150), () -> {
                producer.checkAlive();
                checkWorkersAlive(a, b);
                Set<String> withRecords = events.refresh().stream().filter(e -> e.type.equals("REC"))
                        .map(Ev::shard).collect(Collectors.toSet());
                return withRecords.containsAll(initial.stream().map(Shard::shardId).collect(Collectors.toList()));
            });
            timeline.add(String.format(Locale.ROOT, "started=%.0fs", Support.secondsSince(t0)));

            // 2. SplitShard of shard 0 while records flow: its children are processed.
            String s0 = initial.get(0).shardId();
            BigInteger lo = new BigInteger(initial.get(0).hashKeyRange().startingHashKey());
            BigInteger hi = new BigInteger(initial.get(0).hashKeyRange().endingHashKey());
            k.splitShard(r -> r.streamName(stream).shardToSplit(s0).newStartingHashKey(lo.add(hi).shiftRight(1).toString()));
            waitActive(k, stream);
            List<String> splitChildren = Support.listShards(k, stream).stream()
                    .filter(s -> s0.equals(s.parentShardId())).map(Shard::shardId).collect(Collectors.toList());
            checkEquals(2, splitChildren.size(), "children of the split");
            waitFor("split children " + splitChildren + " processed", Duration.ofSeconds(90), () -> {
                producer.checkAlive();
                checkWorkersAlive(a, b);
                return recShards().containsAll(splitChildren);
            });

            // 3. MergeShards of shards 2 and 3: the merged child is processed.
            String s2 = initial.get(2).shardId();
            String s3 = initial.get(3).shardId();
            k.mergeShards(r -> r.streamName(stream).shardToMerge(s2).adjacentShardToMerge(s3));
            waitActive(k, stream);
            List<String> mergeChild = Support.listShards(k, stream).stream()
                    .filter(s -> s2.equals(s.parentShardId()) && s3.equals(s.adjacentParentShardId()))
                    .map(Shard::shardId).collect(Collectors.toList());
            checkEquals(1, mergeChild.size(), "child of the merge");
            waitFor("merge child " + mergeChild + " processed", Duration.ofSeconds(90), () -> {
                producer.checkAlive();
                checkWorkersAlive(a, b);
                return recShards().containsAll(mergeChild);
            });
            timeline.add(String.format(Locale.ROOT, "resharded=%.0fs", Support.secondsSince(t0)));

            // 4. kill -9 of the worker holding the most leases: the other one takes them over. First
            //    wait for a settled spread: both workers processing and checkpointing, the lease
            //    table agreeing, no graceful handoff pending.
            //    (Leases of ended shards do not count: a handoff the leader asked for just as a parent
            //    shard ended can stay on its lease item, and nobody processes that shard any more.)
            String[] unsettled = {"not polled yet"};
            Map<String, Set<String>> active = waitFor("both workers processing their own leases", Duration.ofSeconds(90), () -> {
                producer.checkAlive();
                checkWorkersAlive(a, b);
                events.refresh();
                Map<String, Lease> l = leases(ddb);
                List<String> handoffs = l.values().stream().filter(x -> !x.ended() && x.checkpointOwner != null)
                        .map(x -> x.shard + " " + x.owner + "->" + x.checkpointOwner).collect(Collectors.toList());
                if (!handoffs.isEmpty()) {
                    unsettled[0] = "graceful handoffs pending: " + handoffs;
                    return null;
                }
                Map<String, Set<String>> m = new HashMap<>();
                for (Worker w : List.of(a, b)) {
                    List<Set<String>> held = activeShards(w.file());
                    Set<String> mine = held.get(0);
                    // every lease in use and checkpointed at least once, so the takeover has a checkpoint to resume from
                    if (mine.isEmpty() || !held.get(1).equals(mine)) {
                        unsettled[0] = w.id + " holds " + mine + ", checkpointed " + held.get(1);
                        return null;
                    }
                    for (String shard : mine) {
                        if (l.get(shard) == null || !w.id.equals(l.get(shard).owner)) {
                            unsettled[0] = w.id + " processes " + shard + " but the lease table says " + l.get(shard);
                            return null;
                        }
                    }
                    m.put(w.id, mine);
                }
                return m;
            }, () -> unsettled[0]);
            Worker victim = active.get(a.id).size() >= active.get(b.id).size() ? a : b;
            Worker survivor = victim == a ? b : a;
            Set<String> victimShards = new HashSet<>(active.get(victim.id));
            check(!victimShards.isEmpty(), "the victim holds no lease");
            String victimFile = victim.file();
            String survivorFileBefore = survivor.file();
            victim.kill9();
            long killedAt = System.currentTimeMillis();
            double killedSecs = Support.secondsSince(t0);
            events.refresh();
            Map<String, BigInteger> victimCheckpoints = lastCheckpoints(victimFile);
            // Taken over = the survivor initialized a processor for the shard (it holds the lease);
            // resumed = that processor got its first records (the producer keeps every shard busy).
            List<Map<String, Long>> taken = waitFor("survivor " + survivor.id + " takes over and processes " + victimShards,
                    Duration.ofMillis(4 * FAILOVER_MS + 4 * ASSIGNMENT_MS + 30_000), () -> {
                        producer.checkAlive();
                        check(survivor.process.isAlive(), "survivor died; log %s", survivor.logFile);
                        Map<String, Long> initAt = new HashMap<>();
                        Map<String, Long> recAt = new HashMap<>();
                        for (Ev e : events.refresh()) {
                            if (!e.file.equals(survivorFileBefore) || e.t < killedAt || !victimShards.contains(e.shard)) continue;
                            if (e.type.equals("INIT")) initAt.putIfAbsent(e.shard, e.t);
                            if (e.type.equals("REC")) recAt.putIfAbsent(e.shard, e.t);
                        }
                        return initAt.keySet().containsAll(victimShards) && recAt.keySet().containsAll(victimShards)
                                ? List.of(initAt, recAt) : null;
                    });
            long takeoverMs = Collections.max(taken.get(0).values()) - killedAt;
            long resumedMs = Collections.max(taken.get(1).values()) - killedAt;
            timeline.add(String.format(Locale.ROOT, "killed=%.0fs", killedSecs));

            // 5. The killed worker comes back (same worker id), and production goes on for a while.
            victim.start();
            sleep(6_000);
            producer.stop();
            int producedBeforeRestart = producer.byData.size();
            waitFor("every produced record processed (before the restart)", Duration.ofSeconds(90), () -> {
                checkWorkersAlive(a, b);
                return processedData().containsAll(producer.byData.keySet());
            });

            // 6. Restart of both workers: graceful stop (processors checkpoint), more records, start again.
            Set<String> filesBeforeRestart = new HashSet<>(List.of(a.file(), b.file(), victimFile, survivorFileBefore));
            filesBeforeRestart.addAll(events.all.stream().map(Ev::file).collect(Collectors.toSet()));
            a.terminate();
            b.terminate();
            Map<String, Lease> atStop = leases(ddb);
            events.refresh();
            producer.put(1_000);
            a.start();
            b.start();
            waitFor("every produced record processed (after the restart)", Duration.ofSeconds(120), () -> {
                checkWorkersAlive(a, b);
                return processedData().containsAll(producer.byData.keySet());
            });
            sleep(1_500);
            a.terminate();
            b.terminate();
            events.refresh();
            timeline.add(String.format(Locale.ROOT, "done=%.0fs", Support.secondsSince(t0)));

            // ------------------------------------------------------------ the checks
            List<Ev> all = events.all;
            List<Ev> recs = all.stream().filter(e -> e.type.equals("REC")).collect(Collectors.toList());
            Map<String, List<BigInteger>> shardSeqs = producer.byShard();

            // (a) every record produced is processed at least once
            Set<String> processed = recs.stream().map(Ev::data).collect(Collectors.toSet());
            Set<String> missing = new HashSet<>(producer.byData.keySet());
            missing.removeAll(processed);
            check(missing.isEmpty(), "%d produced records never processed, e.g. %s", missing.size(),
                    missing.stream().limit(5).collect(Collectors.toList()));
            for (Ev e : recs) {
                Produced p = producer.byData.get(e.data);
                check(p != null, "processed a record nobody produced: %s", e.data);
                checkEquals(p.shard, e.shard, "shard of " + e.data);
                checkEquals(p.seq, new BigInteger(e.seq), "sequence number of " + e.data);
            }

            // (b) per shard, each processor gets the shard's records in sequence order, without gaps,
            //     starting right after the checkpoint it was initialized with
            Map<String, List<Ev>> byTenure = new LinkedHashMap<>();
            Map<String, Ev> inits = new HashMap<>();
            for (Ev e : all) {
                if (e.type.equals("INIT")) inits.put(e.tenure(), e);
                if (e.type.equals("REC")) byTenure.computeIfAbsent(e.tenure(), x -> new ArrayList<>()).add(e);
            }
            for (Map.Entry<String, List<Ev>> t : byTenure.entrySet()) {
                List<Ev> list = t.getValue();
                String shard = list.get(0).shard;
                List<BigInteger> seqs = shardSeqs.get(shard);
                Ev init = inits.get(t.getKey());
                check(init != null, "records without INIT in %s", t.getKey());
                int index = startIndex(seqs, init.seq);
                for (Ev e : list) {
                    check(index < seqs.size(), "%s: more records than produced on %s", t.getKey(), shard);
                    BigInteger expected = seqs.get(index);
                    check(expected.equals(new BigInteger(e.seq)), "%s on %s: got %s where the next record after %s is %s"
                            + " (out of order or a gap)", t.getKey(), shard, e.seq, index == 0 ? init.seq : seqs.get(index - 1),
                            expected);
                    index++;
                }
            }

            // (c) children only after the parents reached SHARD_END
            Map<String, List<String>> parentsOf = new HashMap<>();
            for (String c : splitChildren) parentsOf.put(c, List.of(s0));
            parentsOf.put(mergeChild.get(0), List.of(s2, s3));
            for (Map.Entry<String, List<String>> pc : parentsOf.entrySet()) {
                long childStart = all.stream().filter(e -> pc.getKey().equals(e.shard) && e.type.equals("INIT"))
                        .mapToLong(Ev::t).min().orElseThrow(() -> new AssertionError("child " + pc.getKey() + " never initialized"));
                for (String parent : pc.getValue()) {
                    long parentEnding = all.stream().filter(e -> parent.equals(e.shard) && e.type.equals("ENDING"))
                            .mapToLong(Ev::t).min().orElseThrow(() -> new AssertionError("parent " + parent
                                    + " never reached SHARD_END (no shardEnded call)"));
                    check(all.stream().anyMatch(e -> parent.equals(e.shard) && e.type.equals("END")),
                            "parent %s: shardEnded never checkpointed", parent);
                    check(childStart >= parentEnding, "child %s initialized at %d, before parent %s reached SHARD_END at %d",
                            pc.getKey(), childStart, parent, parentEnding);
                    BigInteger lastParent = shardSeqs.get(parent).get(shardSeqs.get(parent).size() - 1);
                    check(recs.stream().anyMatch(e -> parent.equals(e.shard) && lastParent.equals(new BigInteger(e.seq))
                                    && e.t <= childStart),
                            "parent %s's last record was not processed before child %s started", parent, pc.getKey());
                }
            }

            // (d) after kill -9: the survivor starts each taken-over shard after the victim's last checkpoint
            int dupAfterKill = 0;
            Set<String> victimData = recs.stream().filter(e -> e.file.equals(victimFile)).map(Ev::data)
                    .collect(Collectors.toSet());
            for (String shard : victimShards) {
                Ev init = all.stream().filter(e -> e.type.equals("INIT") && e.file.equals(survivorFileBefore)
                        && shard.equals(e.shard) && e.t >= killedAt).findFirst()
                        .orElseThrow(() -> new AssertionError("survivor never initialized " + shard));
                BigInteger victimCkpt = victimCheckpoints.get(shard);
                if (victimCkpt != null) {
                    check(isNumber(init.seq) && new BigInteger(init.seq).compareTo(victimCkpt) >= 0,
                            "survivor resumed %s from %s, before the victim's last checkpoint %s", shard, init.seq, victimCkpt);
                }
            }
            for (Ev e : recs) {
                if (e.file.equals(survivorFileBefore) && e.t >= killedAt && victimShards.contains(e.shard)
                        && victimData.contains(e.data)) {
                    dupAfterKill++;
                }
            }
            // Records the victim processed after its last checkpoint: what the survivor must process again.
            int uncheckpointed = 0;
            for (String shard : victimShards) {
                BigInteger ckpt = victimCheckpoints.get(shard);
                long after = recs.stream().filter(e -> e.file.equals(victimFile) && shard.equals(e.shard)
                        && (ckpt == null || new BigInteger(e.seq).compareTo(ckpt) > 0)).count();
                uncheckpointed += (int) after;
                System.err.printf(Locale.ROOT, "kill: %s victim last checkpoint %s, %d records after it; survivor resumed from %s%n",
                        shard, ckpt, after, all.stream().filter(e -> e.type.equals("INIT") && e.file.equals(survivorFileBefore)
                                && shard.equals(e.shard) && e.t >= killedAt).map(Ev::seq).findFirst().orElse("?"));
            }

            // (e) after the restart of both: nothing at or before a checkpoint is processed again
            int dupAfterRestart = 0;
            Set<String> beforeRestart = recs.stream().filter(e -> filesBeforeRestart.contains(e.file)).map(Ev::data)
                    .collect(Collectors.toSet());
            for (Ev e : recs) {
                if (filesBeforeRestart.contains(e.file)) continue;
                Lease l = atStop.get(e.shard);
                check(l != null, "after the restart a record of %s was processed, but that shard had no lease at the stop", e.shard);
                check(!l.ended(), "after the restart a record of %s was processed, a shard checkpointed at SHARD_END", e.shard);
                if (isNumber(l.checkpoint)) {
                    check(new BigInteger(e.seq).compareTo(new BigInteger(l.checkpoint)) > 0,
                            "after the restart %s (%s) was processed again although the checkpoint of %s is %s",
                            e.data, e.seq, e.shard, l.checkpoint);
                }
                if (beforeRestart.contains(e.data)) dupAfterRestart++;
            }
            for (Ev e : all) {
                if (filesBeforeRestart.contains(e.file) || !e.type.equals("INIT")) continue;
                Lease l = atStop.get(e.shard);
                if (l != null && isNumber(l.checkpoint) && inits.get(e.tenure()) == e
                        && all.stream().noneMatch(x -> x.type.equals("INIT") && x.shard.equals(e.shard)
                                && !filesBeforeRestart.contains(x.file) && x.t < e.t)) {
                    checkEquals(l.checkpoint, e.seq, "first INIT of " + e.shard + " after the restart vs the checkpoint at the stop");
                }
            }

            int duplicates = recs.size() - processed.size();
            String numbers = String.format(Locale.ROOT,
                    "produced=%d processed=%d (deliveries=%d, duplicates=%d) takeover=%.1fs of %d leases (processing resumed"
                            + " after %.1fs), dup-after-kill=%d"
                            + " (victim processed %d after its last checkpoints), dup-after-restart=%d, shards=%d, %s",
                    producer.byData.size(), processed.size(), recs.size(), duplicates, takeoverMs / 1000.0, victimShards.size(),
                    resumedMs / 1000.0, dupAfterKill, uncheckpointed, dupAfterRestart, shardSeqs.size(), String.join(" ", timeline));
            check(takeoverMs <= 2 * FAILOVER_MS + 3 * ASSIGNMENT_MS + 10_000,
                    "lease takeover took %d ms (failover %d ms, assignment interval %d ms)", takeoverMs, FAILOVER_MS, ASSIGNMENT_MS);
            check(producedBeforeRestart > 0, "nothing produced");
            return numbers;
        }

        private static int startIndex(List<BigInteger> seqs, String checkpoint) {
            if (!isNumber(checkpoint)) {
                check(checkpoint.equals("TRIM_HORIZON"), "unexpected initial checkpoint %s", checkpoint);
                return 0;
            }
            BigInteger c = new BigInteger(checkpoint);
            int i = 0;
            while (i < seqs.size() && seqs.get(i).compareTo(c) <= 0) i++;
            return i;
        }

        static boolean isNumber(String s) {
            return s != null && !s.isEmpty() && s.chars().allMatch(Character::isDigit);
        }

        private void waitStarted(Worker w) {
            waitFor(w.id + " STARTED", Duration.ofSeconds(90), () -> {
                checkWorkersAlive(w);
                return events.refresh().stream().anyMatch(e -> e.file.equals(w.file()) && e.type.equals("STATE")
                        && e.data.equals("STARTED"));
            });
        }

        private void checkWorkersAlive(Worker... workers) {
            for (Worker w : workers) {
                check(w.process.isAlive(), "worker %s exited (code %d); log %s", w.id, w.process.isAlive() ? 0
                        : w.process.exitValue(), w.logFile);
            }
        }

        private Set<String> recShards() {
            return events.refresh().stream().filter(e -> e.type.equals("REC")).map(Ev::shard).collect(Collectors.toSet());
        }

        private Set<String> processedData() {
            return events.refresh().stream().filter(e -> e.type.equals("REC")).map(Ev::data).collect(Collectors.toSet());
        }

        private Map<String, BigInteger> lastCheckpoints(String file) {
            Map<String, BigInteger> m = new HashMap<>();
            for (Ev e : events.all) {
                if (e.file.equals(file) && (e.type.equals("CKPT") || e.type.equals("SHUTREQ")) && isNumber(e.seq)) {
                    m.put(e.shard, new BigInteger(e.seq));
                }
            }
            return m;
        }

        /**
         * Two sets: the shards the worker's current run holds (initialized, not since lost, ended or
         * shut down), and those of them it has also checkpointed in this tenure.
         */
        private List<Set<String>> activeShards(String file) {
            Map<String, Integer> state = new HashMap<>(); // 0 gone, 1 held, 2 held and checkpointed
            for (Ev e : events.all) {
                if (!e.file.equals(file) || e.shard == null) continue;
                switch (e.type) {
                    case "INIT" -> state.put(e.shard, 1);
                    case "CKPT" -> state.computeIfPresent(e.shard, (k, v) -> v == 0 ? 0 : 2);
                    case "LOST", "ENDING", "END", "SHUTREQ" -> state.put(e.shard, 0);
                    default -> { }
                }
            }
            Set<String> held = new HashSet<>();
            Set<String> checkpointed = new HashSet<>();
            state.forEach((shard, v) -> {
                if (v > 0) held.add(shard);
                if (v > 1) checkpointed.add(shard);
            });
            return List.of(held, checkpointed);
        }

        record Lease(String shard, String owner, String checkpoint, String checkpointOwner) {
            boolean ended() {
                return "SHARD_END".equals(checkpoint);
            }
        }

        /** The lease items of the application's lease table (other KCL 3 entities share the table). */
        private Map<String, Lease> leases(DynamoDbClient ddb) {
            Map<String, Lease> out = new TreeMap<>();
            Map<String, AttributeValue> start = null;
            do {
                Map<String, AttributeValue> from = start;
                ScanResponse r = ddb.scan(s -> s.tableName(app).consistentRead(true).exclusiveStartKey(from));
                for (Map<String, AttributeValue> item : r.items()) {
                    AttributeValue key = item.get("leaseKey");
                    if (key == null || key.s() == null || !key.s().startsWith("shardId-")) continue;
                    AttributeValue owner = item.get("leaseOwner");
                    AttributeValue ckpt = item.get("checkpoint");
                    AttributeValue ckptOwner = item.get("checkpointOwner");
                    out.put(key.s(), new Lease(key.s(), owner == null ? null : owner.s(), ckpt == null ? null : ckpt.s(),
                            ckptOwner == null ? null : ckptOwner.s()));
                }
                start = r.hasLastEvaluatedKey() && !r.lastEvaluatedKey().isEmpty() ? r.lastEvaluatedKey() : null;
            } while (start != null);
            return out;
        }
    }
}
