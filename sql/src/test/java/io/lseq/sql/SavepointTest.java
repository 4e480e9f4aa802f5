package io.lseq.sql;

import static io.lseq.sql.SqlTesting.assertSameScores;
import static io.lseq.sql.SqlTesting.byKeySeq;
import static io.lseq.sql.SqlTesting.expected;
import static io.lseq.sql.SqlTesting.readJsonDir;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lseq.core.model.Model;
import io.lseq.flink.state.StateMismatchException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.table.api.TableResult;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Stop with a savepoint and resume: each key's state carries over (written on hashmap, resumed on
 * RocksDB), and a model of another architecture is refused with the DataStream job's message.
 */
class SavepointTest {
    @RegisterExtension
    static final MiniClusterExtension CLUSTER = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1).setNumberSlotsPerTaskManager(2).build());

    @TempDir
    Path tmp;

    private TableResult start(Path in, Path out, Path model, String backend, String restoreFrom, boolean restarts) {
        Configuration conf = new Configuration();
        TableEnvironment t = SqlScript.environment(conf);
        t.getConfig().set("parallelism.default", "2");
        t.getConfig().set("execution.checkpointing.interval", "300 ms");
        t.getConfig().set("state.backend.type", backend);
        if (!restarts) {
            t.getConfig().set("restart-strategy.type", "none");
        }
        if (restoreFrom != null) {
            t.getConfig().set("execution.state-recovery.path", restoreFrom);
        }
        // A continuous file source: the job runs until stopped, and its state remembers the files read.
        t.executeSql("CREATE TABLE events (`key` STRING, ts BIGINT, token INT) WITH ('connector' = 'filesystem', "
                + "'path' = '" + in.toUri() + "', 'format' = 'json', 'source.monitor-interval' = '200 ms')");
        t.executeSql("CREATE TABLE scores (`key` STRING, seq BIGINT, score DOUBLE, ts BIGINT, error STRING) WITH ("
                + "'connector' = 'filesystem', 'path' = '" + out.toUri() + "', 'format' = 'json', "
                + "'sink.rolling-policy.rollover-interval' = '500 ms', 'sink.rolling-policy.inactivity-interval' = '200 ms', "
                + "'sink.rolling-policy.check-interval' = '200 ms')");
        return t.executeSql("INSERT INTO scores SELECT * FROM LSEQ_SCORE(input => TABLE events PARTITION BY `key`, "
                + "model => '" + model + "', uid => 'lseq-score')");
    }

    private static void awaitRows(Path out, int n) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!Files.exists(out) || readJsonDir(out).size() < n) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("fewer than " + n + " committed rows in " + out);
            }
            Thread.sleep(100);
        }
    }

    @Test
    void stopWithSavepointAndResumeCarriesStateOver() throws Exception {
        List<String> lines = SqlTesting.sampleLines(600);
        Path in = Files.createDirectories(tmp.resolve("in"));
        Path out = tmp.resolve("out");
        Path model = SqlTesting.model("reference-lru");
        Files.write(in.resolve("a.jsonl"), lines.subList(0, 300));

        JobClient first = start(in, out, model, "hashmap", null, true).getJobClient().orElseThrow();
        awaitRows(out, 300);
        String savepoint = first.stopWithSavepoint(false, tmp.resolve("savepoints").toUri().toString(),
                SavepointFormatType.CANONICAL).get(60, TimeUnit.SECONDS);

        // More events of the same keys, read only by the resumed job (the source's state knows a.jsonl).
        Files.write(in.resolve("b.jsonl"), lines.subList(300, 600));
        JobClient second = start(in, out, model, "rocksdb", savepoint, true).getJobClient().orElseThrow();
        awaitRows(out, 600);
        second.cancel().get(30, TimeUnit.SECONDS);
        assertSameScores(expected(Model.load(model), lines), byKeySeq(readJsonDir(out)));

        // Another architecture: refused on the client before submitting (what lseq sql does) ...
        Path other = SqlTesting.model("reference-attention");
        SqlSavepointCheck.requireCompatible(savepoint, List.of(Model.load(model))); // the same: passes
        StateMismatchException refused = assertThrows(StateMismatchException.class,
                () -> SqlSavepointCheck.requireCompatible(savepoint, List.of(Model.load(other))));
        assertTrue(refused.getMessage().startsWith(
                "the savepoint's key states were written for a model with another architecture"), refused.getMessage());
        // ... and on restore, as lseq run's job refuses it.
        TableResult third = start(in, tmp.resolve("out-other"), other, "hashmap", savepoint, false);
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> third.await(60, TimeUnit.SECONDS));
        String chain = chain(e);
        assertTrue(chain.contains("StateMismatchException") && chain.contains(
                "the savepoint's key states were written for a model with another architecture"), chain);
    }

    private static String chain(Throwable e) {
        StringBuilder b = new StringBuilder();
        for (Throwable c = e; c != null; c = c.getCause()) {
            b.append(c.getClass().getSimpleName()).append(": ").append(c.getMessage()).append('\n');
        }
        return b.toString();
    }

}
