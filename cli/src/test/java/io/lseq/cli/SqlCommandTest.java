package io.lseq.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** lseq sql: a script with LSEQ_SCORE on files gives lseq score's scores, bit for bit; help and errors. */
class SqlCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    private static Path root() {
        Path p = Path.of("").toAbsolutePath();
        while (!Files.exists(p.resolve("examples/models"))) {
            p = p.getParent();
        }
        return p;
    }

    @Test
    void scriptOnJsonFilesEqualsLseqScore() throws Exception {
        Path events = root().resolve("examples/events/sample.jsonl");
        Path in = Files.createDirectories(tmp.resolve("in"));
        List<String> lines;
        try (Stream<String> s = Files.lines(events)) {
            lines = s.limit(1500).toList();
        }
        Files.write(in.resolve("events.jsonl"), lines);
        Path model = root().resolve("examples/models/reference-lru");
        Path out = tmp.resolve("out");
        Path script = tmp.resolve("score.sql");
        Files.writeString(script, String.join("\n",
                "-- events in, scores out; a ';' in a comment or 'a string;' does not split",
                "CREATE TABLE events (`key` STRING, ts BIGINT, token INT, id STRING)",
                "  WITH ('connector' = 'filesystem', 'path' = '" + in.toUri() + "', 'format' = 'json');",
                "CREATE TABLE scores (`key` STRING, seq BIGINT, score DOUBLE, ts BIGINT, id STRING, error STRING)",
                "  WITH ('connector' = 'filesystem', 'path' = '" + out.toUri() + "', 'format' = 'json');",
                "INSERT INTO scores SELECT * FROM LSEQ_SCORE(input => TABLE events PARTITION BY `key`,",
                "  model => '" + model + "');", ""));
        CliRunner.Result r = CliRunner.run("sql", "-f", script.toString(), "--parallelism", "2");
        assertEquals(0, r.status(), r.err());
        assertTrue(r.out().strip().matches("[0-9a-f]{32}"), "one job id: " + r.out());

        Path scored = tmp.resolve("expected.jsonl");
        Path input = tmp.resolve("events.jsonl");
        Files.write(input, lines);
        CliRunner.Result s = CliRunner.run("score", "--model", model.toString(), "--input", input.toString(),
                "--output", scored.toString(), "--quiet");
        assertEquals(0, s.status(), s.err());

        Map<String, JsonNode> sql = new HashMap<>();
        try (Stream<Path> files = Files.walk(out)) {
            for (Path f : files.filter(Files::isRegularFile).filter(f -> !f.getFileName().toString().startsWith("."))
                    .toList()) {
                for (String line : Files.readAllLines(f)) {
                    JsonNode n = JSON.readTree(line);
                    assertTrue(sql.put(n.get("key").asText() + "/" + n.get("seq").asLong(), n) == null, line);
                }
            }
        }
        List<String> expected = Files.readAllLines(scored);
        assertEquals(expected.size(), sql.size());
        for (String line : expected) {
            JsonNode e = JSON.readTree(line);
            JsonNode a = sql.get(e.get("key").asText() + "/" + e.get("seq").asLong());
            float want = (float) e.get("score").asDouble(); // lseq score writes the float32's shortest text
            double got = a.get("score").asDouble();
            assertEquals(Float.floatToIntBits(want), Float.floatToIntBits((float) got), line + " vs " + a);
            assertEquals(got, (double) (float) got, "the SQL score is a float32 widened: " + a);
            assertEquals(e.get("ts").asLong(), a.get("ts").asLong());
        }
    }

    /** A savepoint of another architecture is refused before anything is submitted, in lseq run's words. */
    @Test
    void savepointOfAnotherArchitectureIsRefusedOnTheClient() throws Exception {
        String lru = root().resolve("examples/models/reference-lru").toString();
        String attention = root().resolve("examples/models/reference-attention").toString();
        String tables = "CREATE TABLE events (`key` STRING, token INT) WITH ('connector' = 'datagen', "
                + "'rows-per-second' = '200', 'fields.key.length' = '2', 'fields.token.min' = '0', 'fields.token.max' = '511');\n"
                + "CREATE TABLE sink (`key` STRING, seq BIGINT, score DOUBLE, error STRING) WITH ('connector' = 'blackhole');\n";
        // A running LSEQ_SCORE job on the LRU model, stopped with a savepoint.
        org.apache.flink.table.api.TableEnvironment t = io.lseq.sql.SqlScript.environment(new org.apache.flink.configuration.Configuration());
        for (String st : io.lseq.sql.SqlScript.split(tables)) {
            t.executeSql(st);
        }
        org.apache.flink.core.execution.JobClient job = t.executeSql("INSERT INTO sink SELECT * FROM LSEQ_SCORE(input => "
                + "TABLE events PARTITION BY `key`, model => '" + lru + "', uid => 'lseq-score')").getJobClient().orElseThrow();
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (job.getJobStatus().get() != org.apache.flink.api.common.JobStatus.RUNNING && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        Thread.sleep(1000);
        String savepoint = job.stopWithSavepoint(false, tmp.resolve("sp").toUri().toString(),
                org.apache.flink.core.execution.SavepointFormatType.CANONICAL).get(60, java.util.concurrent.TimeUnit.SECONDS);

        Path script = tmp.resolve("resume.sql");
        Files.writeString(script, "SET 'execution.state-recovery.path' = '" + savepoint + "';\n" + tables
                + "INSERT INTO sink SELECT * FROM LSEQ_SCORE(input => TABLE events PARTITION BY `key`, model => '"
                + attention + "', uid => 'lseq-score');\n");
        CliRunner.Result r = CliRunner.run("sql", "-f", script.toString());
        assertEquals(1, r.status(), r.err());
        assertTrue(r.err().startsWith("lseq sql: statement 4 (INSERT INTO sink"), r.err());
        assertTrue(r.err().contains("the savepoint's key states were written for a model with another architecture"), r.err());
        assertEquals("", r.out(), "nothing submitted");
    }

    @Test
    void helpAndErrors() throws Exception {
        CliRunner.Result h = CliRunner.run("sql", "--help");
        assertEquals(0, h.status());
        assertTrue(h.out().contains("usage: lseq sql -f FILE.sql [--jobmanager HOST:PORT] [--parallelism N]"), h.out());
        assertTrue(CliRunner.run("--help").out().contains("sql"));

        CliRunner.Result missing = CliRunner.run("sql", "-f", tmp.resolve("nope.sql").toString());
        assertEquals(1, missing.status());
        assertTrue(missing.err().startsWith("lseq sql: no such SQL file"), missing.err());

        Path bad = tmp.resolve("bad.sql");
        Files.writeString(bad, "CREATE TEMPORARY VIEW v AS SELECT * FROM (VALUES ('a', 1.5)) AS t(`key`, amount);\n"
                + "SELECT * FROM LSEQ_SCORE(input => TABLE v PARTITION BY `key`, model => '"
                + root().resolve("examples/models/reference-lru") + "');\n");
        CliRunner.Result r = CliRunner.run("sql", "-f", bad.toString());
        assertEquals(1, r.status());
        assertTrue(r.err().startsWith("lseq sql: statement 2 (SELECT * FROM LSEQ_SCORE"), r.err());
        assertTrue(r.err().contains("takes tokens: the input needs a column `token`"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
    }
}
