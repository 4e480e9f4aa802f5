package io.lseq.sql;

import static io.lseq.sql.SqlTesting.assertSameScores;
import static io.lseq.sql.SqlTesting.byKeySeq;
import static io.lseq.sql.SqlTesting.expected;
import static io.lseq.sql.SqlTesting.readJsonDir;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.lseq.core.model.Model;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** Filesystem JSON in and out: the same scores as lseq score, bit for bit. */
class FileJsonTest {
    @RegisterExtension
    static final MiniClusterExtension CLUSTER = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1).setNumberSlotsPerTaskManager(2).build());

    @TempDir
    Path tmp;

    @Test
    void jsonFilesInAndOutEqualLseqScore() throws Exception {
        List<String> lines = SqlTesting.sampleLines(2000);
        Path in = Files.createDirectories(tmp.resolve("in"));
        Files.write(in.resolve("events.jsonl"), lines);
        Path out = tmp.resolve("out");
        Path modelDir = SqlTesting.model("reference-lru");

        TableEnvironment t = SqlScript.environment(new Configuration());
        t.getConfig().set("parallelism.default", "2");
        t.executeSql("CREATE TABLE events (`key` STRING, ts BIGINT, token INT, id STRING) WITH ("
                + "'connector' = 'filesystem', 'path' = '" + in.toUri() + "', 'format' = 'json')");
        t.executeSql("CREATE TABLE scores (`key` STRING, seq BIGINT, score DOUBLE, ts BIGINT, id STRING, error STRING) WITH ("
                + "'connector' = 'filesystem', 'path' = '" + out.toUri() + "', 'format' = 'json')");
        t.executeSql("INSERT INTO scores SELECT * FROM LSEQ_SCORE(input => TABLE events PARTITION BY `key`, model => '"
                + modelDir + "')").await();

        List<SqlTesting.Expected> want = expected(Model.load(modelDir), lines);
        assertEquals(lines.size(), want.size());
        assertSameScores(want, byKeySeq(readJsonDir(out)));
    }
}
