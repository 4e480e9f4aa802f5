package io.lseq.tests.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.lseq.connectors.event.Score;
import io.lseq.connectors.json.Json;
import io.lseq.core.testing.TestModels;
import io.lseq.flink.job.JobOptions;
import io.lseq.flink.job.ScoringJob;
import io.lseq.tests.kafka.EmbeddedKafka;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** --state-ttl: a key idle for longer than the TTL starts afresh; an active key keeps its state. */
class TtlTest {
    @RegisterExtension
    static final EmbeddedKafka.PerClass KAFKA = new EmbeddedKafka.PerClass();

    @TempDir
    Path tmp;

    @Test
    void idleKeysExpireActiveKeysDoNot() throws Exception {
        EmbeddedKafka kafka = KAFKA.kafka();
        kafka.createTopic("in", 1);
        kafka.createTopic("out", 1);
        Path model = TestModels.repoRoot().resolve("examples/models/reference-lru");
        JobOptions o = KafkaJobs.kafkaJob(kafka, model, "in", "out", null, tmp.resolve("chk"));
        o.stateTtl = Duration.ofSeconds(2);
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(Jobs.config(o, false));
        ScoringJob.build(env, o);
        JobClient job = env.executeAsync(o.jobName);
        try {
            KafkaJobs.publish(kafka, "in", List.of(ev("idle", 1), ev("idle", 2), ev("busy", 1)), tmp.resolve("a"));
            kafka.consumeAll("out", true, 3, Duration.ofSeconds(60));
            // "busy" sees an event every 0.5 s for 4 s; "idle" sees none.
            for (int i = 0; i < 8; i++) {
                Thread.sleep(500);
                KafkaJobs.publish(kafka, "in", List.of(ev("busy", 2)), tmp.resolve("b"));
            }
            KafkaJobs.publish(kafka, "in", List.of(ev("idle", 3), ev("busy", 3)), tmp.resolve("c"));
            List<String> out = KafkaJobs.values(kafka.consumeAll("out", true, 13, Duration.ofSeconds(60)));
            assertEquals(13, out.size());
            Score idle = Json.parseScore(out.get(out.size() - 2));
            Score busy = Json.parseScore(out.get(out.size() - 1));
            assertEquals("idle", idle.key());
            assertEquals(0, idle.seq(), "idle for 4 s > TTL 2 s: a fresh state");
            assertEquals("busy", busy.key());
            assertEquals(9, busy.seq(), "its 10th event: never idle for 2 s, the state lives on");
        } finally {
            job.cancel().get();
        }
    }

    private static String ev(String key, int token) {
        return "{\"key\":\"" + key + "\",\"token\":" + token + "}";
    }
}
