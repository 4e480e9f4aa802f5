package io.lseq.tests.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lseq.cli.Main;
import io.lseq.cli.CliRunner;
import io.lseq.connectors.event.Score;
import io.lseq.core.testing.TestModels;
import io.lseq.flink.job.JobOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import io.lseq.tests.kafka.EmbeddedKafka;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Backfill the first part of a stream into a savepoint, stream the rest from it: the same
 * scores, within the format's tolerance, as streaming everything.
 */
class BackfillTest {
    static final Path ROOT = TestModels.repoRoot();

    @RegisterExtension
    static final EmbeddedKafka.PerClass KAFKA = new EmbeddedKafka.PerClass();

    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"hashmap", "rocksdb"})
    void streamingTheRestFromABackfillSavepointEqualsStreamingEverything(String backend) throws Exception {
        Path model = ROOT.resolve("examples/models/reference-lru");
        Split split = split();
        Path savepoint = tmp.resolve("savepoint");

        int status = Main.run(new String[] {"backfill", "--model", model.toString(), "--input", split.first().toString(),
            "--savepoint", savepoint.toString(), "--threads", "2", "--window", "700", "--quiet"});
        assertEquals(0, status);
        assertTrue(Files.exists(savepoint.resolve("_metadata")), "a savepoint");

        streamTheRestAndCompare(model, savepoint, split, backend);
    }

    /** The sample events cut in two: the first 3,000 to backfill, the rest to stream; and all of them. */
    private record Split(Path first, Path rest, Path full, int restSize) {}

    private Split split() throws Exception {
        List<String> all = Files.readAllLines(ROOT.resolve("examples/events/sample.jsonl"));
        return new Split(Files.write(tmp.resolve("first.jsonl"), all.subList(0, 3000)),
                Files.write(tmp.resolve("rest.jsonl"), all.subList(3000, all.size())),
                Files.write(tmp.resolve("all.jsonl"), all), all.size() - 3000);
    }

    /** Streams the rest from {@code savepoint}: every score continues its key within tolerance of streaming all. */
    private void streamTheRestAndCompare(Path model, Path savepoint, Split split, String backend) throws Exception {
        JobOptions o = Jobs.fileJob(model, split.rest(), tmp.resolve("out"), tmp.resolve("chk"));
        o.fromSavepoint = savepoint.toString();
        o.stateBackend = backend;
        o.parallelism = 2;
        Jobs.run(o);

        Map<String, Score> got = Jobs.byKeySeq(Jobs.committedLines(tmp.resolve("out/scores")));
        Map<String, Score> want = Jobs.byKeySeq(Jobs.referenceScores(model, split.full(), tmp));
        assertEquals(split.restSize(), got.size());
        double worst = 0;
        for (Map.Entry<String, Score> e : got.entrySet()) {
            Score w = want.get(e.getKey());
            assertTrue(w != null, "streamed (key, seq) " + e.getKey() + " continues the backfilled keys");
            double b = w.score();
            worst = Math.max(worst, Math.abs(e.getValue().score() - b) / (1e-4 + 1e-4 * Math.abs(b)));
        }
        assertTrue(worst <= 1, "worst error " + worst + " of tolerance");
    }

    /**
     * The same with {@code --device gpu}: the GPU backend (on the host emulator of the CUDA driver
     * where there is no GPU) writes the savepoint the streaming job continues from.
     */
    @Test
    void streamingTheRestFromAGpuBackfillEqualsStreamingEverything() throws Exception {
        Path lib = io.lseq.gpu.EmulatedCuda.build();
        org.junit.jupiter.api.Assumptions.assumeTrue(lib != null, "no g++ to build the CUDA emulator");
        Path model = ROOT.resolve("examples/models/reference-lru");
        Split split = split();
        Path savepoint = tmp.resolve("savepoint");
        boolean realGpu = io.lseq.gpu.CudaDevice.probe() == null;
        // Passes over the device of at most 300 rows: windows of 700 events cut keys across passes.
        Map<String, String> env = new java.util.HashMap<>(Map.of("LSEQ_JAVA_OPTS", "-Dlseq.gpu.maxRows=300"));
        if (!realGpu) {
            env.put("LD_LIBRARY_PATH", lib.toString());
        }
        var r = io.lseq.gpu.EmulatedCuda.run(ROOT, env, 300,
                ROOT.resolve("bin/lseq").toString(), "backfill", "--model", model.toString(), "--input", split.first().toString(),
                "--savepoint", savepoint.toString(), "--device", "gpu", "--window", "700");
        assertEquals(0, r.status(), r.output());
        assertTrue(r.output().contains("lseq backfill: device gpu: " + (realGpu ? "" : "lseq host emulator")), r.output());
        streamTheRestAndCompare(model, savepoint, split, "hashmap");
    }

    /**
     * An emulated device of 16 MB and one window that needs more than that at once: 1,300 keys of
     * one event, a key of 5,000, then 1,300 more of one. The GPU backend takes it in passes, and
     * the buffers sized by keys (grown by the passes of many keys) and those sized by rows (grown
     * by the long key) fit together; one pass ran out of memory here, and so did the first
     * version of the passes, which sized a pass by rows alone.
     */
    @Test
    void aSmallDeviceTakesAWindowInPasses() throws Exception {
        Path lib = io.lseq.gpu.EmulatedCuda.build();
        org.junit.jupiter.api.Assumptions.assumeTrue(lib != null, "no g++ to build the CUDA emulator");
        org.junit.jupiter.api.Assumptions.assumeTrue(io.lseq.gpu.CudaDevice.probe() != null, "a real GPU: its memory is its own");
        List<String> lines = new java.util.ArrayList<>();
        for (int k = 0; k < 1300; k++) {
            lines.add("{\"key\":\"short-" + k + "\",\"token\":" + (k % 64) + "}");
        }
        for (int t = 0; t < 5000; t++) {
            lines.add("{\"key\":\"long\",\"token\":" + (t % 64) + "}");
        }
        for (int k = 1300; k < 2600; k++) {
            lines.add("{\"key\":\"short-" + k + "\",\"token\":" + (k % 64) + "}");
        }
        Path events = Files.write(tmp.resolve("events.jsonl"), lines);
        var r = io.lseq.gpu.EmulatedCuda.run(ROOT, Map.of("LD_LIBRARY_PATH", lib.toString(),
                "LSEQ_EMULATED_DEVICE_BYTES", Integer.toString(16 << 20)), 300, ROOT.resolve("bin/lseq").toString(),
                "backfill", "--model", "examples/models/longrange-lru", "--input", events.toString(),
                "--savepoint", tmp.resolve("savepoint").toString(), "--device", "gpu");
        assertEquals(0, r.status(), r.output());
        assertTrue(r.output().contains("7,600 events, 2,601 keys"), r.output());
    }

    /**
     * {@code --device}: auto says which device it used (and why not the GPU); gpu without CUDA, or
     * with a model the GPU cannot run, fails before reading anything, saying why in one line.
     */
    @Test
    void theDeviceIsSaidAndAGpuThatCannotRunIsRefused() throws Exception {
        Path model = ROOT.resolve("examples/models/reference-lru");
        Path events = ROOT.resolve("examples/events/sample.jsonl");
        boolean cuda = io.lseq.gpu.CudaDevice.probe() == null;
        CliRunner.Result auto = CliRunner.run("backfill", "--model", model.toString(), "--input", events.toString(),
                "--savepoint", tmp.resolve("auto").toString(), "--threads", "2");
        assertEquals(0, auto.status(), auto.err());
        assertTrue(auto.err().contains(cuda ? "lseq backfill: device gpu: " : "lseq backfill: device cpu (2 threads); not the GPU: "),
                auto.err());
        if (!cuda) {
            CliRunner.Result gpu = CliRunner.run("backfill", "--model", model.toString(), "--input", events.toString(),
                    "--savepoint", tmp.resolve("gpu").toString(), "--device", "gpu");
            assertEquals(1, gpu.status(), gpu.err());
            assertTrue(gpu.err().startsWith("lseq backfill: --device gpu: no CUDA driver"), gpu.err());
            assertTrue(!Files.exists(tmp.resolve("gpu")), "nothing written");
        }
        CliRunner.Result gru = CliRunner.run("backfill", "--model", ROOT.resolve("examples/models/longrange-gru").toString(),
                "--input", events.toString(), "--savepoint", tmp.resolve("gru").toString(), "--device", "gpu");
        assertEquals(2, gru.status(), gru.err());
        assertTrue(gru.err().contains("block 0 of model longrange-gru is gru: the GPU backend runs models whose blocks "
                + "are all lru; use --device cpu"), gru.err());
    }

    /** From a topic: the backfill sets the group's offsets where it stopped; the job streams on from there. */
    @Test
    void kafkaHistoryThenStreamFromTheCommittedOffsets() throws Exception {
        EmbeddedKafka kafka = KAFKA.kafka();
        kafka.createTopic("hist", 2);
        kafka.createTopic("hist-out", 1);
        Path model = ROOT.resolve("examples/models/reference-lru");
        List<String> events = KafkaJobs.tokenEvents(10, 100, 512, 5);
        KafkaJobs.publish(kafka, "hist", events.subList(0, 600), tmp.resolve("a.jsonl"));
        Path savepoint = tmp.resolve("sp");
        int status = Main.run(new String[] {"backfill", "--model", model.toString(), "--input",
            "kafka://" + kafka.bootstrapServers() + "/hist", "--group-id", "g-hist", "--savepoint", savepoint.toString(),
            "--quiet"});
        assertEquals(0, status);
        KafkaJobs.publish(kafka, "hist", events.subList(600, events.size()), tmp.resolve("b.jsonl"));

        JobOptions o = KafkaJobs.kafkaJob(kafka, model, "hist", "hist-out", null, tmp.resolve("chk"));
        o.groupId = "g-hist";
        o.fromSavepoint = savepoint.toString();
        o.kafkaUntilEnd = true;
        Jobs.run(o);
        List<String> out = KafkaJobs.values(kafka.consumeUntilQuiet("hist-out", true, Duration.ofSeconds(1),
                Duration.ofSeconds(20)));
        Map<String, Score> got = Jobs.byKeySeq(out);
        Map<String, Score> want = Jobs.byKeySeq(Jobs.referenceScores(model, Files.write(tmp.resolve("all.jsonl"), events), tmp));
        assertEquals(400, got.size(), "only the events after the backfill");
        double worst = 0;
        for (Map.Entry<String, Score> e : got.entrySet()) {
            Score w = want.get(e.getKey());
            assertTrue(w != null && e.getValue().seq() >= 0, e.getKey());
            worst = Math.max(worst, Math.abs(e.getValue().score() - w.score()) / (1e-4 + 1e-4 * Math.abs(w.score())));
        }
        assertTrue(worst <= 1, "worst error " + worst + " of tolerance");
    }
}
