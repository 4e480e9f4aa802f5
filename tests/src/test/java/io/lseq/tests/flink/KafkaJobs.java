package io.lseq.tests.flink;

import io.lseq.connectors.Endpoint;
import io.lseq.flink.job.JobOptions;
import io.lseq.tests.kafka.EmbeddedKafka;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;

/** Kafka-side helpers for the job tests: interleaved event streams in, committed scores out. */
final class KafkaJobs {
    private KafkaJobs() {}

    /** Options for a Kafka-to-Kafka job with fast checkpoints. */
    static JobOptions kafkaJob(EmbeddedKafka kafka, Path model, String in, String out, String dead, Path checkpoints) {
        JobOptions o = new JobOptions();
        o.model = model;
        String base = "kafka://" + kafka.bootstrapServers() + "/";
        o.source = Endpoint.parse("--source", base + in);
        o.sink = Endpoint.parse("--sink", base + out);
        o.deadLetter = dead == null ? null : Endpoint.parse("--dead-letter", base + dead);
        o.checkpointInterval = Duration.ofMillis(500);
        o.checkpointDir = checkpoints.toUri().toString();
        o.groupId = "g-" + in;
        o.transactionalIdPrefix = "tx-" + out;
        o.jobName = "test " + in;
        return o;
    }

    /** {@code keys} keys' token events, interleaved at random, as JSON lines. */
    static List<String> tokenEvents(int keys, int perKey, int vocab, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int[] left = new int[keys];
        java.util.Arrays.fill(left, perKey);
        List<String> lines = new ArrayList<>();
        int remaining = keys * perKey;
        while (remaining > 0) {
            int k = rnd.nextInt(keys);
            if (left[k] == 0) {
                continue;
            }
            left[k]--;
            remaining--;
            lines.add("{\"key\":\"key-" + k + "\",\"ts\":" + (1_700_000_000_000L + lines.size()) + ",\"token\":"
                    + rnd.nextInt(vocab) + (lines.size() % 7 == 0 ? ",\"id\":\"e" + lines.size() + "\"" : "") + "}");
        }
        return lines;
    }

    /** Writes the lines to a file (for {@code lseq score}) and produces them keyed by their key. */
    static Path publish(EmbeddedKafka kafka, String topic, List<String> lines, Path file) throws Exception {
        Files.write(file, lines);
        List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
        for (String l : lines) {
            String key = l.replaceAll("^\\{\"key\":\"([^\"]*)\".*", "$1");
            records.add(new ProducerRecord<>(topic, key.getBytes(StandardCharsets.UTF_8), l.getBytes(StandardCharsets.UTF_8)));
        }
        kafka.produce(topic, records);
        return file;
    }

    /** Committed records' values as text. */
    static List<String> values(List<ConsumerRecord<byte[], byte[]>> records) {
        List<String> out = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> r : records) {
            out.add(new String(r.value(), StandardCharsets.UTF_8));
        }
        return out;
    }
}
