package io.lseq.tests.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lseq.connectors.event.DeadLetter;
import io.lseq.connectors.event.Score;
import io.lseq.connectors.json.Json;
import io.lseq.core.testing.TestModels;
import io.lseq.flink.job.JobOptions;
import io.lseq.flink.job.ScoringJob;
import io.lseq.tests.kafka.EmbeddedKafka;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad records on a Kafka topic go to the dead-letter topic with their reason and position while
 * the good ones around them are scored; none of them touches a key's state.
 */
class DeadLetterTest {
    @RegisterExtension
    static final EmbeddedKafka.PerClass KAFKA = new EmbeddedKafka.PerClass();

    /** Features model (dim 5, classes head). */
    static final Path MODEL = TestModels.repoRoot().resolve("recurrent-core/src/test/resources/golden/gru_classes");

    @TempDir
    Path tmp;

    private static String good(String key, int i) {
        return "{\"key\":\"" + key + "\",\"features\":[" + (i % 3) + ",0.5,-1," + (i * 0.1) + ",2]}";
    }

    @Test
    void badRecordsAreDeadLetteredAndGoodOnesKeepFlowing() throws Exception {
        EmbeddedKafka kafka = KAFKA.kafka();
        try (Admin admin = kafka.admin()) {
            // Room for a record over 1 MiB, which the job must reject by size.
            admin.createTopics(List.of(new NewTopic("in", 2, (short) 1).configs(Map.of("max.message.bytes", "3000000")),
                    new NewTopic("out", 1, (short) 1), new NewTopic("dead", 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
        }
        String huge = "{\"key\":\"a\",\"features\":[1,2,3,4,5],\"pad\":\"" + "x".repeat(1_100_000) + "\"}";
        Map<String, String> bad = new java.util.LinkedHashMap<>();
        bad.put("{\"key\":\"a\",\"features\":[1,2", "not valid JSON");
        bad.put("{\"features\":[1,2,3,4,5]}", "missing key");
        bad.put("{\"key\":\"a\",\"features\":[1,2,3,4]}", "expected 5 features, got 4");
        bad.put("{\"key\":\"a\",\"features\":[1,NaN,3,4,5]}", "features[1] is NaN");
        bad.put("{\"key\":\"a\",\"features\":[1,2,3,4,Infinity]}", "features[4] is infinite");
        bad.put(huge, "over the 1 MiB");
        bad.put("{\"key\":\"a\",\"features\":\"1,2,3,4,5\"}", "features must be an array");
        bad.put("{\"key\":5,\"features\":[1,2,3,4,5]}", "key must be a string");
        bad.put("{\"key\":\"a\",\"token\":3}", "model takes features, event has a token");
        bad.put("{\"key\":\"a\",\"ts\":\"noon\",\"features\":[1,2,3,4,5]}", "ts must be an integer");

        List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
        int goodCount = 0;
        for (String b : bad.keySet()) {
            for (int j = 0; j < 3; j++) {
                String key = j == 2 ? "b" : "a";
                records.add(record(key, good(key, goodCount++)));
            }
            records.add(new ProducerRecord<>("in", null, b.getBytes(StandardCharsets.UTF_8)));
        }
        // A value without "key" takes the Kafka record key.
        records.add(record("c", "{\"features\":[1,2,3,4,5]}"));
        goodCount++;
        produce(kafka, records);

        JobOptions o = KafkaJobs.kafkaJob(kafka, MODEL, "in", "out", "dead", tmp.resolve("chk"));
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(Jobs.config(o, true));
        ScoringJob.build(env, o);
        JobClient job = env.executeAsync(o.jobName);
        List<ConsumerRecord<byte[], byte[]>> letters;
        List<String> scores;
        try {
            letters = kafka.consumeAll("dead", true, bad.size(), Duration.ofSeconds(120));
            scores = KafkaJobs.values(kafka.consumeAll("out", true, goodCount, Duration.ofSeconds(60)));
        } finally {
            job.cancel().get();
        }
        assertEquals(bad.size(), letters.size());
        Map<String, DeadLetter> byRaw = new HashMap<>();
        for (ConsumerRecord<byte[], byte[]> r : letters) {
            DeadLetter d = Json.parseDeadLetter(new String(r.value(), StandardCharsets.UTF_8));
            assertTrue(d.source().matches("in/[01]@[0-9]+"), d.source());
            byRaw.put(d.raw().length() >= 4000 ? huge : d.raw(), d);
        }
        for (Map.Entry<String, String> e : bad.entrySet()) {
            DeadLetter d = byRaw.get(e.getKey());
            assertTrue(d != null && d.error().contains(e.getValue()), e.getValue() + ": " + d);
        }
        DeadLetter big = byRaw.get(huge);
        assertTrue(big.raw().getBytes(StandardCharsets.UTF_8).length <= 4096 && huge.startsWith(big.raw()));

        assertEquals(goodCount, scores.size(), "every good record scored");
        Map<String, Long> next = new HashMap<>();
        for (String s : scores) {
            Score sc = Json.parseScore(s);
            long want = next.merge(sc.key(), 1L, Long::sum) - 1;
            assertEquals(want, sc.seq(), "rejected records take no seq: " + s);
            assertEquals(4, sc.values().length);
        }
        assertEquals(1L, next.get("c"));
    }

    private static ProducerRecord<byte[], byte[]> record(String key, String value) {
        return new ProducerRecord<>("in", key.getBytes(StandardCharsets.UTF_8), value.getBytes(StandardCharsets.UTF_8));
    }

    /** In order, on one connection, with room for the oversized record. */
    private static void produce(EmbeddedKafka kafka, List<ProducerRecord<byte[], byte[]>> records) throws Exception {
        Properties p = new Properties();
        p.putAll(kafka.clientProperties());
        p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, 3_000_000);
        p.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 1);
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
            for (ProducerRecord<byte[], byte[]> r : records) {
                producer.send(r).get();
            }
        }
    }
}
