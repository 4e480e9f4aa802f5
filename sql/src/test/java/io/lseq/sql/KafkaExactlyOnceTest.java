package io.lseq.sql;

import static io.lseq.sql.SqlTesting.assertSameScores;
import static io.lseq.sql.SqlTesting.byKeySeq;
import static io.lseq.sql.SqlTesting.expected;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.lseq.core.model.Model;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.table.functions.ScalarFunction;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Kafka SQL source and sink, exactly-once, with a failure injected after checkpoints: every
 * (key, seq) comes out once (read_committed) with lseq score's scores.
 */
class KafkaExactlyOnceTest {
    @RegisterExtension
    static final MiniClusterExtension CLUSTER = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1).setNumberSlotsPerTaskManager(2).build());

    static final AtomicLong SEEN = new AtomicLong();
    static final AtomicBoolean FAILED = new AtomicBoolean();
    static final int FAIL_AT = 500;

    /** Passes tokens through slowly (checkpoints happen between rows), and fails once at row {@link #FAIL_AT}. */
    public static class FailOnce extends ScalarFunction {
        private static final long serialVersionUID = 1L;

        public Integer eval(Integer token) throws InterruptedException {
            Thread.sleep(2);
            if (SEEN.incrementAndGet() >= FAIL_AT && FAILED.compareAndSet(false, true)) {
                throw new IllegalStateException("injected failure at row " + FAIL_AT);
            }
            return token;
        }
    }

    @Test
    void kafkaInKafkaOutExactlyOnceThroughAFailure() throws Exception {
        List<String> lines = SqlTesting.sampleLines(1200);
        try (KafkaBroker kafka = KafkaBroker.start()) {
            kafka.createTopic("events", 2);
            kafka.createTopic("scores", 2);
            List<byte[][]> records = new ArrayList<>();
            for (String l : lines) {
                String key = SqlTesting.JSON.readTree(l).get("key").asText();
                records.add(new byte[][] {key.getBytes(StandardCharsets.UTF_8), l.getBytes(StandardCharsets.UTF_8)});
            }
            kafka.produce("events", records);
            Path model = SqlTesting.model("reference-lru");

            TableEnvironment t = SqlScript.environment(new Configuration());
            t.getConfig().set("parallelism.default", "2");
            t.getConfig().set("execution.checkpointing.interval", "200 ms");
            t.getConfig().set("restart-strategy.type", "fixed-delay");
            t.getConfig().set("restart-strategy.fixed-delay.attempts", "3");
            t.getConfig().set("restart-strategy.fixed-delay.delay", "200 ms");
            t.createTemporarySystemFunction("FAIL_ONCE", FailOnce.class);
            t.executeSql("CREATE TABLE events (`key` STRING, ts BIGINT, token INT) WITH ('connector' = 'kafka', "
                    + "'topic' = 'events', 'properties.bootstrap.servers' = '" + kafka.bootstrap() + "', "
                    + "'properties.group.id' = 'lseq-sql-test', 'scan.startup.mode' = 'earliest-offset', "
                    + "'scan.bounded.mode' = 'latest-offset', 'format' = 'json')");
            t.executeSql("CREATE TABLE scores (`key` STRING, seq BIGINT, score DOUBLE, ts BIGINT, error STRING) WITH ("
                    + "'connector' = 'kafka', 'topic' = 'scores', 'properties.bootstrap.servers' = '" + kafka.bootstrap()
                    + "', 'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'lseq-sql-test', "
                    + "'properties.transaction.timeout.ms' = '60000', 'format' = 'json')");
            t.executeSql("CREATE TEMPORARY VIEW slow AS SELECT `key`, ts, FAIL_ONCE(token) AS token FROM events");
            t.executeSql("INSERT INTO scores SELECT * FROM LSEQ_SCORE(input => TABLE slow PARTITION BY `key`, model => '"
                    + model + "')").await(120, TimeUnit.SECONDS);
            assertTrue(FAILED.get(), "the failure was injected");

            List<JsonNode> rows = new ArrayList<>();
            for (byte[] v : kafka.readCommitted("scores", Duration.ofSeconds(2))) {
                rows.add(SqlTesting.JSON.readTree(v));
            }
            assertEquals(lines.size(), rows.size(), "every (key, seq) once"); // byKeySeq also refuses repeats
            assertSameScores(expected(Model.load(model), lines), byKeySeq(rows));
        }
    }
}
