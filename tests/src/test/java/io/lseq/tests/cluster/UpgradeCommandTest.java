package io.lseq.tests.cluster;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.lseq.cli.CliRunner;
import io.lseq.cli.Main;
import io.lseq.connectors.event.Score;
import io.lseq.connectors.json.Json;
import io.lseq.core.testing.TestModels;
import io.lseq.tests.LocalProcesses;
import io.lseq.tests.LocalProcesses.Result;
import io.lseq.tests.kafka.EmbeddedKafka;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code lseq upgrade} end to end on the local process cluster ({@code deploy/local/flink.sh}: a
 * JobManager and two TaskManagers as JVMs) with an embedded Kafka broker: model A (LRU) scores a
 * topic; events keep arriving while {@code lseq upgrade} moves the job to model B (a GRU, another
 * architecture); more events follow. Read committed, every (key, seq) of the whole stream is
 * there exactly once; those before the stop point are A's scores ({@code lseq score} of A, bit
 * for bit), those after it B's {@code lseq score} over each key's whole history (within the
 * format's tolerance: B's states come from the batch path). Then an upgrade whose backfill fails
 * (a history topic the job never read) prints how to resume; that very command resumes B from the
 * untouched savepoint, again with nothing lost or repeated.
 */
class UpgradeCommandTest {
    @RegisterExtension
    static final EmbeddedKafka.PerClass KAFKA = new EmbeddedKafka.PerClass();

    static final String LRU = TestModels.tokensConfig("[{\"mixer\":{\"type\":\"lru\",\"d_state\":16},\"post\":\"glu\"}]");
    static final String GRU = TestModels.tokensConfig("[{\"mixer\":{\"type\":\"gru\",\"d_state\":16}}]");

    private static Path repoRoot;
    private static ProcessCluster cluster;
    private static Path runDir;
    private static int restPort;

    @TempDir
    Path tmp;

    @BeforeAll
    static void startCluster() throws Exception {
        repoRoot = LocalProcesses.repoRoot(UpgradeCommandTest.class);
        assumeTrue(Files.isRegularFile(repoRoot.resolve("cli/target/lseq-job.jar")),
                "the job jar is built by mvn package (mvn verify)");
        cluster = ProcessCluster.start(UpgradeCommandTest.class, "flink-upgrade-", 2, Map.of());
        runDir = cluster.runDir();
        restPort = cluster.restPort();
    }

    @AfterAll
    static void stopCluster() throws Exception {
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    @Timeout(value = 300, unit = TimeUnit.SECONDS)
    void upgradeWhileEventsArriveLosesAndRepeatsNothingAndAFailedOneResumesTheOldModel() throws Exception {
        long t0 = System.nanoTime();
        System.setProperty("lseq.job.jar", repoRoot.resolve("cli/target/lseq-job.jar").toString());
        EmbeddedKafka kafka = KAFKA.kafka();
        kafka.createTopic("ug-in", 2);
        kafka.createTopic("ug-other", 1);
        for (String t : List.of("ug-a", "ug-b", "ug-b-resumed")) {
            kafka.createTopic(t, 2);
        }
        Path a = TestModels.writeRandom(tmp.resolve("model-a"), LRU, 1);
        Path b = TestModels.writeRandom(tmp.resolve("model-b"), GRU, 2);
        SplittableRandom rnd = new SplittableRandom(19);
        List<List<String>> batches = new ArrayList<>();
        for (int p = 0; p < 4; p++) {
            List<String> events = new ArrayList<>();
            for (int i = 0; i < 2500; i++) {
                events.add("{\"key\":\"u" + rnd.nextInt(150) + "\",\"token\":" + rnd.nextInt(32) + "}");
            }
            batches.add(events);
        }
        String bootstrap = kafka.bootstrapServers();
        String jm = "127.0.0.1:" + restPort;
        List<String> io = List.of("--jobmanager", jm, "--source", "kafka://" + bootstrap + "/ug-in", "--group-id", "ug",
                "--transactional-id-prefix", "ug", "--parallelism", "2", "--checkpoint-interval", "1s");

        CliRunner.Result run = CliRunner.run(argv(List.of("run", "--model", a.toString(), "--sink",
                "kafka://" + bootstrap + "/ug-a"), io));
        assertEquals(0, run.status(), run.err());
        String job = run.out().strip();
        produce(kafka, batches.get(0));
        kafka.consumeAll("ug-a", true, 2500, Duration.ofSeconds(120));

        // The upgrade while the second batch is being produced and scored.
        CompletableFuture<Void> arriving = CompletableFuture.runAsync(() -> {
            for (int i = 0; i < 2500; i += 100) { // over ~5 s, so that the stop falls amid them
                produce(kafka, batches.get(1).subList(i, i + 100));
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(200));
            }
        });
        long u0 = System.nanoTime();
        CliRunner.Result upgrade = CliRunner.run(argv(List.of("upgrade", "--job", job, "--model", b.toString(),
                "--old-model", a.toString(), "--savepoint", tmp.resolve("savepoints").toString(), "--device", "cpu",
                "--sink", "kafka://" + bootstrap + "/ug-b"), io));
        double upgradeSeconds = (System.nanoTime() - u0) / 1e9;
        arriving.join();
        assertEquals(0, upgrade.status(), upgrade.err());
        for (String phase : List.of("1/3 done", "2/3 done", "3/3 done")) {
            assertTrue(upgrade.err().contains("lseq upgrade: " + phase), phase + " reported:\n" + upgrade.err());
        }
        String newJob = upgrade.out().strip();
        assertTrue(newJob.matches("[0-9a-f]{32}"), "the new job's id on standard output: " + upgrade.out());
        produce(kafka, batches.get(2));

        List<String> all = concat(batches.subList(0, 3));
        Map<String, Score> gotA = committed(kafka, "ug-a", 0);
        Map<String, Score> gotB = committed(kafka, "ug-b", all.size() - gotA.size());
        assertTrue(gotA.size() >= 2500 && gotA.size() <= 5000, gotA.size() + " scores of A");
        Map<String, Score> wantA = lseqScore(a, all);
        Map<String, Score> wantB = lseqScore(b, all);
        assertEquals(wantA.keySet().size(), gotA.size() + gotB.size(), "as many scores as events");
        for (Map.Entry<String, Score> e : gotA.entrySet()) {
            assertTrue(!gotB.containsKey(e.getKey()), "scored twice: " + e.getKey());
            assertArrayEquals(wantA.get(e.getKey()).values(), e.getValue().values(), "A's score " + e.getKey());
        }
        double worst = worst(wantB, gotB);
        Map<String, Score> union = new HashMap<>(gotA);
        union.putAll(gotB);
        assertEquals(wantA.keySet(), union.keySet(), "every (key, seq) exactly once");
        System.out.printf("lseq upgrade A -> B while events arrived: %.1f s; %,d scores by A, %,d by B (worst error "
                + "%.4f of tolerance against B over each key's whole history)%n", upgradeSeconds, gotA.size(),
                gotB.size(), worst);

        // A failed upgrade: the backfill's history is a topic the job never read. The old savepoint resumes B.
        CliRunner.Result failed = CliRunner.run(argv(List.of("upgrade", "--job", newJob, "--model", a.toString(),
                "--old-model", b.toString(), "--history", "kafka://" + bootstrap + "/ug-other", "--savepoint",
                tmp.resolve("savepoints").toString(), "--device", "cpu", "--sink", "kafka://" + bootstrap + "/ug-b"),
                io));
        assertEquals(1, failed.status(), failed.err());
        assertTrue(failed.err().contains("2/3 backfill failed") && failed.err().contains("no position in topic ug-other"),
                failed.err());
        String resume = failed.err().lines().filter(l -> l.startsWith("  lseq run ")).findFirst()
                .orElseThrow(() -> new AssertionError("no resume command in:\n" + failed.err())).strip();
        assertTrue(resume.contains("--model " + b) && resume.contains("--from-savepoint "), resume);
        produce(kafka, batches.get(3));
        List<String> resumeArgv = new ArrayList<>(Arrays.asList(resume.split(" ")).subList(1, resume.split(" ").length));
        resumeArgv.set(resumeArgv.indexOf("kafka://" + bootstrap + "/ug-b"), "kafka://" + bootstrap + "/ug-b-resumed");
        CliRunner.Result resumed = CliRunner.run(resumeArgv.toArray(new String[0]));
        assertEquals(0, resumed.status(), resumed.err());
        Map<String, Score> gotResumed = committed(kafka, "ug-b-resumed", 2500);
        Map<String, Score> wantAll = lseqScore(b, concat(batches));
        assertEquals(2500, gotResumed.size(), "exactly the events after the failed upgrade's stop");
        for (String k : gotResumed.keySet()) {
            assertTrue(!union.containsKey(k), "scored again after the resume: " + k);
        }
        double worstResumed = worst(wantAll, gotResumed);
        cancel(resumed.out().strip());
        System.out.printf("failed upgrade (phase 2), resumed B from the printed command: 2,500 scores, worst error %.4f "
                + "of tolerance; whole test %.1f s%n", worstResumed, (System.nanoTime() - t0) / 1e9);
        System.clearProperty("lseq.job.jar");
    }

    private static String[] argv(List<String> first, List<String> more) {
        List<String> all = new ArrayList<>(first);
        all.addAll(more);
        return all.toArray(new String[0]);
    }

    private static List<String> concat(List<List<String>> parts) {
        List<String> all = new ArrayList<>();
        parts.forEach(all::addAll);
        return all;
    }

    private static void produce(EmbeddedKafka kafka, List<String> events) {
        List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
        for (String e : events) {
            String key = e.substring(8, e.indexOf('"', 8)); // {"key":"...
            records.add(new ProducerRecord<>("ug-in", key.getBytes(UTF_8), e.getBytes(UTF_8)));
        }
        kafka.produce("ug-in", records);
    }

    /** At least {@code n} committed scores, then until quiet; by key/seq, failing on a duplicate. */
    private static Map<String, Score> committed(EmbeddedKafka kafka, String topic, int n) {
        if (n > 0) {
            kafka.consumeAll(topic, true, n, Duration.ofSeconds(120));
        }
        Map<String, Score> got = new HashMap<>();
        for (ConsumerRecord<byte[], byte[]> r : kafka.consumeUntilQuiet(topic, true, Duration.ofSeconds(2),
                Duration.ofSeconds(30))) {
            Score s = Json.parseScore(new String(r.value(), UTF_8));
            assertTrue(got.put(s.key() + "/" + s.seq(), s) == null, "duplicate " + s.key() + "/" + s.seq() + " in " + topic);
        }
        return got;
    }

    /** {@code lseq score} of the events with the model, by key/seq. */
    private Map<String, Score> lseqScore(Path model, List<String> events) throws Exception {
        Path in = Files.write(Files.createTempFile(tmp, "events", ".jsonl"), events);
        Path out = tmp.resolve("scores-" + System.nanoTime() + ".jsonl");
        assertEquals(0, Main.run(new String[] {"score", "--model", model.toString(), "--input", in.toString(),
            "--output", out.toString(), "--quiet"}));
        Map<String, Score> scores = new HashMap<>();
        for (String line : Files.readAllLines(out)) {
            Score s = Json.parseScore(line);
            scores.put(s.key() + "/" + s.seq(), s);
        }
        return scores;
    }

    /** The worst error of {@code got} against {@code want}, in units of the format's tolerance; fails above 1. */
    private static double worst(Map<String, Score> want, Map<String, Score> got) {
        double worst = 0;
        for (Map.Entry<String, Score> e : got.entrySet()) {
            Score w = want.get(e.getKey());
            assertTrue(w != null, "(key, seq) " + e.getKey() + " continues its key");
            float[] wv = w.values();
            float[] gv = e.getValue().values();
            for (int i = 0; i < wv.length; i++) {
                worst = Math.max(worst, Math.abs(gv[i] - wv[i]) / (1e-4 + 1e-4 * Math.abs(wv[i])));
            }
        }
        assertTrue(worst <= 1, "worst error " + worst + " of tolerance");
        return worst;
    }

    private static void cancel(String job) throws Exception {
        java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                java.net.URI.create("http://127.0.0.1:" + restPort + "/jobs/" + job + "?mode=cancel"))
                .method("PATCH", java.net.http.HttpRequest.BodyPublishers.noBody()).build(),
                java.net.http.HttpResponse.BodyHandlers.discarding());
    }

    private static Result flink(String... args) throws Exception {
        return cluster.flink(args);
    }

}
