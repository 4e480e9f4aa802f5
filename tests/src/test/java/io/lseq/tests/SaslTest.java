package io.lseq.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lseq.cli.CliRunner;
import io.lseq.core.testing.TestModels;
import io.lseq.tests.kafka.EmbeddedKafka;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SASL settings pass through to every Kafka client of the job: against a broker that requires
 * SASL/PLAIN, {@code lseq run --kafka-property ...} reads, scores and writes exactly once, and
 * nothing the command prints shows the password.
 */
class SaslTest {
    @TempDir
    Path tmp;

    @Test
    void theJobAuthenticatesWithSaslPlainAndNeverPrintsTheSecret() throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.startSaslPlain()) {
            // The broker really checks: a wrong password is refused.
            Map<String, Object> wrong = new HashMap<>(kafka.clientProperties());
            wrong.putAll(EmbeddedKafka.saslClientSettings(EmbeddedKafka.SASL_USER, "not-the-password"));
            try (Admin admin = Admin.create(wrong)) {
                ExecutionException e = assertThrows(ExecutionException.class,
                        () -> admin.describeCluster().clusterId().get(30, TimeUnit.SECONDS));
                assertTrue(e.getCause().getClass().getSimpleName().contains("Authentication"), e.getCause().toString());
            }
            kafka.createTopic("in", 1);
            kafka.createTopic("out", 1);
            List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                records.add(new ProducerRecord<>("in", null, ("{\"key\":\"k" + (i % 3) + "\",\"token\":" + i + "}")
                        .getBytes(StandardCharsets.UTF_8)));
            }
            kafka.produce("in", records);

            List<String> argv = new ArrayList<>(List.of("run",
                    "--model", TestModels.repoRoot().resolve("examples/models/reference-lru").toString(),
                    "--source", "kafka://" + kafka.bootstrapServers() + "/in",
                    "--sink", "kafka://" + kafka.bootstrapServers() + "/out",
                    "--until-end", "--checkpoint-interval", "1s"));
            EmbeddedKafka.saslClientSettings(EmbeddedKafka.SASL_USER, EmbeddedKafka.SASL_PASSWORD)
                    .forEach((k, v) -> argv.addAll(List.of("--kafka-property", k + "=" + v)));
            CliRunner.Result r = CliRunner.run(argv.toArray(new String[0]));
            assertEquals(0, r.status(), r.err());
            assertFalse((r.out() + r.err()).contains(EmbeddedKafka.SASL_PASSWORD), "the password is never printed");
            assertEquals(20, kafka.consumeUntilQuiet("out", true, Duration.ofSeconds(1), Duration.ofSeconds(20)).size());
        }
    }
}
