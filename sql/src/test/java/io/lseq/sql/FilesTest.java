package io.lseq.sql;

import static io.lseq.sql.SqlTesting.assertSameScores;
import static io.lseq.sql.SqlTesting.byKeySeq;
import static io.lseq.sql.SqlTesting.expected;
import static io.lseq.sql.SqlTesting.readJsonDir;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.lseq.core.model.KeyState;
import io.lseq.core.model.Model;
import io.lseq.core.model.Scorer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.types.Row;
import org.apache.flink.util.CloseableIterator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Files in and out: JSON scores equal lseq score's, rows that are not valid events, a features
 * model with a classes head, CSV input, the function as a catalog function, and planning errors.
 */
class FilesTest {
    @RegisterExtension
    static final MiniClusterExtension CLUSTER = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1).setNumberSlotsPerTaskManager(2).build());

    @TempDir
    Path tmp;

    private TableEnvironment env() {
        TableEnvironment t = SqlScript.environment(new Configuration());
        t.getConfig().set("parallelism.default", "2");
        return t;
    }

    private void run(TableEnvironment t, String inColumns, String inFormat, Path in, String outColumns, Path out,
            Path model) throws Exception {
        t.executeSql("CREATE TABLE events (" + inColumns + ") WITH ('connector' = 'filesystem', 'path' = '"
                + in.toUri() + "', " + inFormat + ")");
        t.executeSql("CREATE TABLE scores (" + outColumns + ") WITH ('connector' = 'filesystem', 'path' = '"
                + out.toUri() + "', 'format' = 'json')");
        t.executeSql("INSERT INTO scores SELECT * FROM LSEQ_SCORE(input => TABLE events PARTITION BY `key`, model => '"
                + model + "')").await();
    }

    // Unpaired surrogates (EVENTS.md) never reach the function through a format: Flink's STRING is
    // UTF-8 inside, and the JSON format turns "\ud800" into "?". LseqScore still checks keys and ids
    // for rows made by Java programs; the JSON file path of lseq score/run rejects them.
    @Test
    void badRowsComeOutWithTheirErrorAndNeverTouchState() throws Exception {
        String longKey = "k".repeat(300);
        List<String> lines = List.of(
                "{\"key\": \"a\", \"ts\": 1, \"token\": 5, \"id\": \"first\"}",
                "{\"key\": \"a\", \"ts\": 2, \"token\": 9000}",
                "{\"ts\": 3, \"token\": 5}",
                "{\"key\": \"\", \"ts\": 4, \"token\": 5}",
                "{\"key\": \"" + longKey + "\", \"ts\": 5, \"token\": 5}",
                "{\"key\": \"a\", \"ts\": 8}",
                "{\"key\": \"a\", \"ts\": 9, \"token\": -1}",
                "{\"key\": \"b\", \"ts\": 10, \"token\": \"abc\"}",
                "this is not json",
                "{\"key\": \"a\", \"ts\": 11, \"token\": 7, \"id\": \"second\"}");
        Path in = Files.createDirectories(tmp.resolve("in"));
        Files.write(in.resolve("events.jsonl"), lines);
        Path out = tmp.resolve("out");
        Path dead = tmp.resolve("dead");
        Path modelDir = SqlTesting.model("reference-lru");
        // As docs/SQL.md shows: one job, scores to one sink and rejected rows to another.
        TableEnvironment t = env();
        t.executeSql("CREATE TABLE events (`key` STRING, ts BIGINT, token INT, id STRING) WITH ('connector' = "
                + "'filesystem', 'path' = '" + in.toUri() + "', 'format' = 'json', 'json.ignore-parse-errors' = 'true')");
        t.executeSql("CREATE TABLE scores (`key` STRING, seq BIGINT, score DOUBLE, ts BIGINT, id STRING) WITH ("
                + "'connector' = 'filesystem', 'path' = '" + out.toUri() + "', 'format' = 'json')");
        t.executeSql("CREATE TABLE dead_letters (`key` STRING, ts BIGINT, error STRING, seq BIGINT, score DOUBLE) WITH ("
                + "'connector' = 'filesystem', 'path' = '" + dead.toUri() + "', 'format' = 'json')");
        t.executeSql("CREATE TEMPORARY VIEW scored AS SELECT * FROM LSEQ_SCORE(input => TABLE events PARTITION BY `key`, "
                + "model => '" + modelDir + "', uid => 'lseq-score')");
        t.executeSql("EXECUTE STATEMENT SET BEGIN\n"
                + "INSERT INTO scores SELECT `key`, seq, score, ts, id FROM scored WHERE error IS NULL;\n"
                + "INSERT INTO dead_letters SELECT `key`, ts, error, seq, score FROM scored WHERE error IS NOT NULL;\n"
                + "END").await();

        List<JsonNode> scores = readJsonDir(out);
        Map<Long, String> errors = new TreeMap<>();
        for (JsonNode r : readJsonDir(dead)) {
            assertTrue(r.get("seq").isNull() && r.get("score").isNull(), r.toString());
            errors.put(r.get("ts").asLong(), r.get("error").asText());
        }
        assertEquals("token 9000 out of range [0, 512)", errors.get(2L));
        assertEquals("missing key", errors.get(3L));
        assertEquals("key is 0 UTF-8 bytes, must be 1..256", errors.get(4L));
        assertEquals("key is 300 UTF-8 bytes, must be 1..256", errors.get(5L));
        assertEquals("missing token", errors.get(8L));
        assertEquals("token -1 out of range [0, 512)", errors.get(9L));
        assertEquals("missing token", errors.get(10L)); // the JSON format nulls a field it cannot read
        assertEquals(7, errors.size(), errors.toString()); // the line that is not JSON: the format skips it

        // Key a's two valid events are its seq 0 and 1, scored as if nothing else had come.
        List<SqlTesting.Expected> want = expected(Model.load(modelDir), List.of(lines.get(0), lines.get(9)));
        assertSameScores(want, byKeySeq(scores));
        assertEquals("second", byKeySeq(scores).get("a/1").get("id").asText());
    }

    @Test
    void featuresModelWithClassesHeadEmitsProbs() throws Exception {
        Path modelDir = SqlTesting.root().resolve("recurrent-core/src/test/resources/golden/gru_classes");
        Model model = Model.load(modelDir);
        List<String> lines = List.of(
                "{\"key\": \"s1\", \"features\": [0.5, -1.0, 2.0, 0.25, 3.0]}",
                "{\"key\": \"s1\", \"features\": [1.0, 2.0]}",
                "{\"key\": \"s1\", \"features\": [1e40, 2.0, 3.0, 4.0, 5.0]}",
                "{\"key\": \"s1\", \"features\": [1.0, null, 3.0, 4.0, 5.0]}",
                "{\"key\": \"s1\", \"features\": [1.5, -2.0, 0.0, 0.75, -3.0]}",
                "{\"key\": \"s2\", \"features\": [0.1, 0.2, 0.3, 0.4, 0.5]}");
        Path in = Files.createDirectories(tmp.resolve("in"));
        Files.write(in.resolve("events.jsonl"), lines);
        Path out = tmp.resolve("out");
        run(env(), "`key` STRING, features ARRAY<DOUBLE>", "'format' = 'json'", in,
                "`key` STRING, seq BIGINT, probs ARRAY<DOUBLE>, error STRING", out, modelDir);

        List<JsonNode> rows = readJsonDir(out);
        List<String> errors = rows.stream().filter(r -> !r.get("error").isNull()).map(r -> r.get("error").asText())
                .sorted().toList();
        assertEquals(List.of("expected 5 features, got 2", "features[0] is 1.0E40, beyond float32 range; features must be finite",
                "features[1] must be a number, got null"), errors);
        Map<String, JsonNode> got = byKeySeq(rows);
        assertEquals(3, got.size());
        // Expected: the engine on the valid events, key by key in order.
        Scorer scorer = model.newScorer();
        KeyState s1 = model.newState();
        KeyState s2 = model.newState();
        float[] outv = new float[model.outputSize()];
        float[][] f = {{0.5f, -1.0f, 2.0f, 0.25f, 3.0f}, {1.5f, -2.0f, 0.0f, 0.75f, -3.0f}, {0.1f, 0.2f, 0.3f, 0.4f, 0.5f}};
        String[] keys = {"s1/0", "s1/1", "s2/0"};
        for (int i = 0; i < 3; i++) {
            scorer.stepFeatures(i < 2 ? s1 : s2, f[i], outv);
            JsonNode probs = got.get(keys[i]).get("probs");
            assertEquals(outv.length, probs.size());
            for (int k = 0; k < outv.length; k++) {
                assertEquals(Float.floatToIntBits(outv[k]), Float.floatToIntBits((float) probs.get(k).asDouble()),
                        keys[i] + " probs[" + k + "]");
            }
        }
    }

    @Test
    void csvInputScoresAsJson() throws Exception {
        List<String> lines = SqlTesting.sampleLines(600);
        List<String> csv = new ArrayList<>();
        for (String l : lines) {
            JsonNode n = SqlTesting.JSON.readTree(l);
            csv.add(n.get("key").asText() + "," + n.get("ts").asLong() + "," + n.get("token").asInt());
        }
        Path in = Files.createDirectories(tmp.resolve("in"));
        Files.write(in.resolve("events.csv"), csv);
        Path out = tmp.resolve("out");
        Path modelDir = SqlTesting.model("reference-lru");
        run(env(), "`key` STRING, ts BIGINT, token BIGINT", "'format' = 'csv'", in,
                "`key` STRING, seq BIGINT, score DOUBLE, ts BIGINT, error STRING", out, modelDir);
        assertSameScores(expected(Model.load(modelDir), lines), byKeySeq(readJsonDir(out)));
    }

    /** Avro files (written here by Flink SQL from the JSON events), scored as the JSON ones are. */
    @Test
    void avroInputScoresAsJson() throws Exception {
        List<String> lines = SqlTesting.sampleLines(600);
        Path json = Files.createDirectories(tmp.resolve("json"));
        Files.write(json.resolve("events.jsonl"), lines);
        Path in = tmp.resolve("in");
        StreamExecutionEnvironment one = StreamExecutionEnvironment.getExecutionEnvironment();
        one.setParallelism(1); // one file, each key's events in their order
        TableEnvironment convert = StreamTableEnvironment.create(one);
        convert.executeSql("CREATE TABLE j (`key` STRING, ts BIGINT, token INT) WITH ('connector' = 'filesystem', "
                + "'path' = '" + json.toUri() + "', 'format' = 'json')");
        convert.executeSql("CREATE TABLE a (`key` STRING, ts BIGINT, token INT) WITH ('connector' = 'filesystem', "
                + "'path' = '" + in.toUri() + "', 'format' = 'avro')");
        convert.executeSql("INSERT INTO a SELECT * FROM j").await();
        Path out = tmp.resolve("out");
        Path modelDir = SqlTesting.model("reference-lru");
        run(env(), "`key` STRING, ts BIGINT, token INT", "'format' = 'avro'", in,
                "`key` STRING, seq BIGINT, score DOUBLE, ts BIGINT, error STRING", out, modelDir);
        assertSameScores(expected(Model.load(modelDir), lines), byKeySeq(readJsonDir(out)));
    }

    @Test
    void jsonFilesInAndOutEqualLseqScore() throws Exception {
        List<String> lines = SqlTesting.sampleLines(2000);
        Path in = Files.createDirectories(tmp.resolve("in"));
        Files.write(in.resolve("events.jsonl"), lines);
        Path out = tmp.resolve("out");
        Path modelDir = SqlTesting.model("reference-lru");
        run(env(), "`key` STRING, ts BIGINT, token INT, id STRING", "'format' = 'json'", in,
                "`key` STRING, seq BIGINT, score DOUBLE, ts BIGINT, id STRING, error STRING", out, modelDir);
        List<SqlTesting.Expected> want = expected(Model.load(modelDir), lines);
        assertEquals(lines.size(), want.size());
        assertSameScores(want, byKeySeq(readJsonDir(out)));
    }

    /** How a user's own SQL environment refers to it: a catalog function by class name, nothing registered. */
    @Test
    void catalogFunctionByClassName() throws Exception {
        StreamTableEnvironment t = StreamTableEnvironment.create(StreamExecutionEnvironment.getExecutionEnvironment());
        t.executeSql("CREATE FUNCTION lseq_score AS 'io.lseq.sql.LseqScore' LANGUAGE JAVA");
        t.executeSql("CREATE TEMPORARY VIEW ev AS SELECT * FROM (VALUES ('a', 5), ('b', 7), ('a', 9000), ('a', 7)) "
                + "AS v(`key`, token)");
        List<Row> rows = new ArrayList<>();
        try (CloseableIterator<Row> it = t.executeSql("SELECT `key`, seq, score, error FROM lseq_score(input => TABLE ev "
                + "PARTITION BY `key`, model => '" + SqlTesting.model("reference-lru") + "')").collect()) {
            it.forEachRemaining(rows::add);
        }
        assertEquals(4, rows.size(), rows.toString());
        List<String> seqs = rows.stream().map(r -> r.getField(0) + "/" + r.getField(1) + "/" + (r.getField(3) != null))
                .sorted().toList();
        assertEquals(List.of("a/0/false", "a/1/false", "a/null/true", "b/0/false"), seqs);
    }

    @Test
    void planningRefusesMissingColumnsAndUnloadableModels() {
        TableEnvironment t = env();
        t.executeSql("CREATE TEMPORARY VIEW ev AS SELECT * FROM (VALUES ('a', 1.5)) AS v(`key`, amount)");
        String model = SqlTesting.model("reference-lru").toString();
        ValidationException e = org.junit.jupiter.api.Assertions.assertThrows(ValidationException.class,
                () -> t.sqlQuery("SELECT * FROM LSEQ_SCORE(input => TABLE ev PARTITION BY `key`, model => '" + model + "')"));
        assertTrue(rootMessage(e).contains("takes tokens: the input needs a column `token`"), rootMessage(e));
        e = org.junit.jupiter.api.Assertions.assertThrows(ValidationException.class,
                () -> t.sqlQuery("SELECT * FROM LSEQ_SCORE(input => TABLE ev PARTITION BY `key`, model => '/no/such/model')"));
        assertTrue(rootMessage(e).contains("cannot load model /no/such/model"), rootMessage(e));
    }

    private static String rootMessage(Throwable e) {
        StringBuilder b = new StringBuilder();
        for (Throwable c = e; c != null; c = c.getCause()) {
            b.append(c.getMessage()).append(" | ");
        }
        return b.toString();
    }
}
