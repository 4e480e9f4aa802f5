package io.lseq.tests.sql;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.types.Row;
import org.apache.flink.util.CloseableIterator;
import io.lseq.core.testing.TestModels;
import org.junit.jupiter.api.Test;

/**
 * {@code CREATE FUNCTION ... USING JAR} with the built job jar, as a user's own SQL environment
 * does it. In this module because the job jar ({@code cli/target/lseq-job.jar}) is packaged
 * before its tests run ({@code -Dlseq.job.jar=PATH} for another). Flink loads the jar's classes
 * child first, so the function and the engine come from the jar even though the test's class
 * path has them too.
 */
class UsingJarTest {
    @Test
    void createFunctionUsingTheJobJar() throws Exception {
        Path jar = Path.of(System.getProperty("lseq.job.jar",
                TestModels.repoRoot().resolve("cli/target/lseq-job.jar").toString()));
        assertTrue(Files.isRegularFile(jar), "no job jar at " + jar + " (mvn package builds it)");
        StreamTableEnvironment t = StreamTableEnvironment.create(StreamExecutionEnvironment.getExecutionEnvironment());
        t.executeSql("CREATE TEMPORARY FUNCTION LSEQ_SCORE AS 'io.lseq.sql.LseqScore' LANGUAGE JAVA USING JAR '"
                + jar.toUri() + "'");
        t.executeSql("CREATE TEMPORARY VIEW ev AS SELECT * FROM (VALUES ('a', 5), ('b', 7), ('a', 7)) AS v(`key`, token)");
        List<String> rows = new ArrayList<>();
        try (CloseableIterator<Row> it = t.executeSql("SELECT `key`, seq, error FROM LSEQ_SCORE(input => TABLE ev "
                + "PARTITION BY `key`, model => '" + TestModels.repoRoot().resolve("examples/models/reference-lru") + "')").collect()) {
            it.forEachRemaining(r -> rows.add(r.getField(0) + "/" + r.getField(1) + "/" + r.getField(2)));
        }
        assertEquals(List.of("a/0/null", "a/1/null", "b/0/null"), rows.stream().sorted().toList());
    }
}
