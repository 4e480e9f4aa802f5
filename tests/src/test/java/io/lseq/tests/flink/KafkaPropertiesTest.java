package io.lseq.tests.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.lseq.core.testing.TestModels;
import io.lseq.flink.job.JobOptions;
import io.lseq.flink.job.ScoringJob;
import io.lseq.tests.kafka.EmbeddedKafka;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The source reads only committed records by default, and {@code --kafka-property} reaches the
 * Kafka clients: overriding {@code isolation.level} makes aborted records visible to the job.
 */
class KafkaPropertiesTest {
    @RegisterExtension
    static final EmbeddedKafka.PerClass KAFKA = new EmbeddedKafka.PerClass();

    @TempDir
    Path tmp;

    @Test
    void defaultReadsCommittedAndPropertiesPassThrough() throws Exception {
        EmbeddedKafka kafka = KAFKA.kafka();
        kafka.createTopic("in", 1);
        kafka.createTopic("out-default", 1);
        kafka.createTopic("out-uncommitted", 1);
        Properties p = new Properties();
        p.putAll(kafka.clientProperties());
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "upstream");
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
            producer.initTransactions();
            producer.beginTransaction();
            producer.send(record("{\"key\":\"a\",\"token\":1}"));
            producer.send(record("{\"key\":\"a\",\"token\":2}"));
            producer.flush(); // written to the log, then aborted
            producer.abortTransaction();
            producer.beginTransaction();
            producer.send(record("{\"key\":\"a\",\"token\":3}"));
            producer.commitTransaction();
        }
        assertEquals(1, run("out-default", null));
        assertEquals(3, run("out-uncommitted", "read_uncommitted"));
    }

    private int run(String out, String isolation) throws Exception {
        Path model = TestModels.repoRoot().resolve("examples/models/reference-lru");
        JobOptions o = KafkaJobs.kafkaJob(KAFKA.kafka(), model, "in", out, null, tmp.resolve(out));
        o.groupId = "g-" + out;
        o.kafkaUntilEnd = true;
        if (isolation != null) {
            o.kafkaProperties.setProperty("isolation.level", isolation);
        }
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(Jobs.config(o, false));
        ScoringJob.build(env, o);
        JobClient job = env.executeAsync(o.jobName);
        job.getJobExecutionResult().get();
        List<?> scores = KAFKA.kafka().consumeUntilQuiet(out, true, Duration.ofSeconds(1), Duration.ofSeconds(20));
        return scores.size();
    }

    private static ProducerRecord<byte[], byte[]> record(String v) {
        return new ProducerRecord<>("in", "a".getBytes(StandardCharsets.UTF_8), v.getBytes(StandardCharsets.UTF_8));
    }
}
