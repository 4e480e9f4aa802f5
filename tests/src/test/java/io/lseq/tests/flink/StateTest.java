package io.lseq.tests.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lseq.connectors.event.Score;
import io.lseq.connectors.json.Json;
import io.lseq.core.model.Model;
import io.lseq.core.testing.TestModels;
import io.lseq.flink.job.JobOptions;
import io.lseq.flink.job.ScoringJob;
import io.lseq.flink.savepoint.ResetState;
import io.lseq.flink.savepoint.SavepointCheck;
import io.lseq.cli.CliRunner;
import io.lseq.tests.kafka.EmbeddedKafka;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.runtime.checkpoint.Checkpoints;
import org.apache.flink.runtime.checkpoint.OperatorState;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.checkpoint.metadata.CheckpointMetadata;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Keyed state in real savepoints (stop-with-savepoint of a Kafka job): its size per key does
 * not grow with events, and a restore carries it over to a model of the same architecture but
 * refuses another architecture.
 */
class StateTest {
    @RegisterExtension
    static final EmbeddedKafka.PerClass KAFKA = new EmbeddedKafka.PerClass();

    static final String LRU = TestModels.tokensConfig("[{\"mixer\":{\"type\":\"lru\",\"d_state\":16}},"
            + "{\"mixer\":{\"type\":\"attention\",\"heads\":2,\"window\":32}}]");
    static final String GRU = TestModels.tokensConfig("[{\"mixer\":{\"type\":\"gru\",\"d_state\":16}}]");

    @TempDir
    Path tmp;

    /** Runs the job over what the topic holds until {@code expected} scores are committed, then stops it with a savepoint. */
    private String runToSavepoint(JobOptions o, String out, int expected) throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(Jobs.config(o, false));
        ScoringJob.build(env, o);
        JobClient job = env.executeAsync(o.jobName);
        try {
            int got = KAFKA.kafka().consumeAll(out, true, expected, Duration.ofSeconds(120)).size();
            assertTrue(got >= expected, got + " of " + expected + " scores committed");
            return job.stopWithSavepoint(false, tmp.resolve("savepoints").toUri().toString(), SavepointFormatType.CANONICAL)
                    .get();
        } catch (Exception e) {
            job.cancel();
            throw e;
        }
    }

    /** Bytes of managed keyed state in a savepoint, summed over every operator and subtask, read from its metadata. */
    static long keyedStateBytes(String savepoint) throws IOException {
        Path dir = Path.of(java.net.URI.create(savepoint.startsWith("file:") ? savepoint : "file://" + savepoint));
        CheckpointMetadata meta;
        try (InputStream in = Files.newInputStream(dir.resolve("_metadata"))) {
            meta = Checkpoints.loadCheckpointMetadata(new DataInputStream(in), StateTest.class.getClassLoader(),
                    savepoint);
        }
        long bytes = 0;
        for (OperatorState op : meta.getOperatorStates()) {
            for (OperatorSubtaskState st : op.getStates()) {
                for (KeyedStateHandle h : st.getManagedKeyedState()) {
                    bytes += h.getStateSize();
                }
            }
        }
        return bytes;
    }

    private long measure(String name, Path model, int keys, int perKey) throws Exception {
        KAFKA.kafka().createTopic("in-" + name, 2);
        KAFKA.kafka().createTopic("out-" + name, 1);
        KafkaJobs.publish(KAFKA.kafka(), "in-" + name, KafkaJobs.tokenEvents(keys, perKey, 32, 1), tmp.resolve(name));
        JobOptions o = KafkaJobs.kafkaJob(KAFKA.kafka(), model, "in-" + name, "out-" + name, null, tmp.resolve("chk"));
        return keyedStateBytes(runToSavepoint(o, "out-" + name, keys * perKey));
    }

    @Test
    void stateBytesPerKeyDoNotGrowWithEvents() throws Exception {
        Path model = TestModels.writeRandom(tmp.resolve("lru"), LRU, 1);
        long ten = measure("ten", model, 1, 10);
        long fiftyThousand = measure("fifty-thousand", model, 1, 50_000);
        long twentyKeys = measure("twenty-keys", model, 20, 10);
        System.out.printf("keyed state in savepoints: 1 key after 10 events %,d B, after 50,000 events %,d B; "
                + "20 keys after 10 events %,d B%n", ten, fiftyThousand, twentyKeys);
        // lru re+im 32, attention keys+values 2*32*16, head y 16: 1,072 floats = 4,288 B of values per key.
        assertTrue(ten > 4 * 1072, "the state is in the savepoint: " + ten);
        assertEquals(ten, fiftyThousand, "state bytes after 50,000 events equal those after 10");
        assertTrue(twentyKeys > 15 * ten, "20 keys hold about 20 states: " + twentyKeys);
    }

    @Test
    void restoreCarriesStateToTheSameArchitectureAndRefusesAnother() throws Exception {
        Path first = TestModels.writeRandom(tmp.resolve("first"), LRU, 1);
        Path retrained = TestModels.writeRandom(tmp.resolve("retrained"), LRU, 2);
        Path other = TestModels.writeRandom(tmp.resolve("other"), GRU, 1);
        EmbeddedKafka kafka = KAFKA.kafka();
        kafka.createTopic("in-restore", 2);
        for (String t : new String[] {"out-a", "out-b", "out-c"}) {
            kafka.createTopic(t, 1);
        }
        KafkaJobs.publish(kafka, "in-restore", KafkaJobs.tokenEvents(3, 10, 32, 1), tmp.resolve("a.jsonl"));
        String savepoint = runToSavepoint(KafkaJobs.kafkaJob(kafka, first, "in-restore", "out-a", null, tmp.resolve("c1")),
                "out-a", 30);
        KafkaJobs.publish(kafka, "in-restore", KafkaJobs.tokenEvents(3, 5, 32, 2), tmp.resolve("b.jsonl"));

        JobOptions cont = KafkaJobs.kafkaJob(kafka, retrained, "in-restore", "out-b", null, tmp.resolve("c2"));
        cont.fromSavepoint = savepoint;
        runToSavepoint(cont, "out-b", 15);
        List<String> b = KafkaJobs.values(kafka.consumeUntilQuiet("out-b", true, Duration.ofSeconds(1), Duration.ofSeconds(10)));
        assertEquals(15, b.size(), String.join("\n", b));
        for (String line : b) {
            Score s = Json.parseScore(line);
            assertTrue(s.seq() >= 10 && s.seq() < 15, "continues the restored keys: " + line);
        }

        // lseq run refuses on the client, before submitting: the savepoint's metadata names the architecture.
        assertEquals(Model.load(first).stateSignature(), SavepointCheck.savedSignature(savepoint).orElseThrow());
        CliRunner.Result cli = CliRunner.run("run", "--model", other.toString(), "--from-savepoint", savepoint,
                "--source", "kafka://" + kafka.bootstrapServers() + "/in-restore",
                "--sink", "kafka://" + kafka.bootstrapServers() + "/out-c");
        assertEquals(1, cli.status(), cli.err());
        assertEquals(1, cli.err().strip().lines().count(), cli.err());
        assertTrue(cli.err().contains("another architecture") && cli.err().contains("--reset-state")
                && cli.err().contains("Gru[dState=16]"), cli.err());

        // A job built without that check (e.g. flink run of the job jar) fails at restore instead.
        JobOptions refused = KafkaJobs.kafkaJob(kafka, other, "in-restore", "out-c", null, tmp.resolve("c3"));
        refused.fromSavepoint = savepoint;
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(Jobs.config(refused, false));
        ScoringJob.build(env, refused);
        Exception e = assertThrows(Exception.class, () -> env.execute(refused.jobName));
        String chain = causes(e);
        assertTrue(chain.contains("another architecture") && chain.contains("Gru[dState=16]")
                && chain.contains("Lru[dState=16]"), chain);
        assertTrue(kafka.consumeUntilQuiet("out-c", true, Duration.ofSeconds(1), Duration.ofSeconds(5)).isEmpty(),
                "nothing scored with misread state");
    }

    @Test
    void resetStateStartsEveryKeyAfreshAndKeepsTheOffsets() throws Exception {
        Path first = TestModels.writeRandom(tmp.resolve("first"), LRU, 1);
        Path other = TestModels.writeRandom(tmp.resolve("other"), GRU, 1);
        EmbeddedKafka kafka = KAFKA.kafka();
        kafka.createTopic("in-reset", 2);
        kafka.createTopic("out-r1", 1);
        kafka.createTopic("out-r2", 1);
        KafkaJobs.publish(kafka, "in-reset", KafkaJobs.tokenEvents(3, 10, 32, 1), tmp.resolve("a.jsonl"));
        String savepoint = runToSavepoint(KafkaJobs.kafkaJob(kafka, first, "in-reset", "out-r1", null, tmp.resolve("c1")),
                "out-r1", 30);
        KafkaJobs.publish(kafka, "in-reset", KafkaJobs.tokenEvents(3, 5, 32, 2), tmp.resolve("b.jsonl"));

        String reset = ResetState.withoutKeyStates(savepoint, tmp.resolve("reset").toUri().toString());
        assertEquals(0, keyedStateBytes(reset), "no key states left");
        assertTrue(keyedStateBytes(savepoint) > 0, "the original savepoint is untouched");
        JobOptions o = KafkaJobs.kafkaJob(kafka, other, "in-reset", "out-r2", null, tmp.resolve("c2"));
        o.fromSavepoint = reset;
        runToSavepoint(o, "out-r2", 15);
        List<String> out = KafkaJobs.values(kafka.consumeUntilQuiet("out-r2", true, Duration.ofSeconds(1), Duration.ofSeconds(10)));
        assertEquals(15, out.size(), "only the events after the savepoint: the offsets were kept");
        for (String line : out) {
            Score s = Json.parseScore(line);
            assertTrue(s.seq() < 5, "a fresh state for every key: " + line);
        }
    }

    private static String causes(Throwable t) {
        StringBuilder b = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause()) {
            b.append(c).append('\n');
        }
        return b.toString();
    }
}
