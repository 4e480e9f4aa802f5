package io.lseq.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.lseq.cli.CliRunner;
import io.lseq.connectors.event.DeadLetter;
import io.lseq.connectors.event.Score;
import io.lseq.connectors.json.Json;
import io.lseq.core.testing.TestModels;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code lseq score} and {@code lseq inspect} on the bundled example model and events. */
class ScoreCommandTest {
    static final Path ROOT = TestModels.repoRoot();
    static final Path MODEL = ROOT.resolve("examples/models/reference-lru");
    static final Path EVENTS = ROOT.resolve("examples/events/sample.jsonl");

    @TempDir
    Path tmp;

    @Test
    void scoresMatchThePyTorchReferenceLineByLine() throws IOException {
        Path out = tmp.resolve("scores.jsonl");
        CliRunner.Result r = CliRunner.run("score", "--model", MODEL.toString(), "--input", EVENTS.toString(),
                "--output", out.toString());
        assertEquals(0, r.status(), r.err());
        assertTrue(r.err().contains("0 rejected"), r.err());
        List<String> got = Files.readAllLines(out);
        List<String> want = Files.readAllLines(ROOT.resolve("examples/events/sample-expected.jsonl"));
        assertEquals(want.size(), got.size());
        double worst = 0;
        for (int i = 0; i < want.size(); i++) {
            Score g = Json.parseScore(got.get(i));
            Score w = Json.parseScore(want.get(i));
            assertEquals(w.key(), g.key(), "line " + (i + 1));
            assertEquals(w.seq(), g.seq(), "line " + (i + 1));
            assertEquals(w.ts(), g.ts(), "line " + (i + 1));
            assertEquals(w.id(), g.id(), "line " + (i + 1));
            assertEquals("reference-lru", g.model());
            // Compare against the reference's full-precision text, not its float32 rounding.
            double b = Double.parseDouble(want.get(i).replaceAll(".*\"score\": ?([-0-9.eE+]+).*", "$1"));
            worst = Math.max(worst, Math.abs(g.score() - b) / (1e-4 + 1e-4 * Math.abs(b)));
        }
        assertTrue(worst <= 1, "worst error " + worst + " of tolerance");
    }

    @Test
    void badLinesGoToTheDeadLetterFileAndScoringGoesOn() throws IOException {
        Path out = tmp.resolve("scores.jsonl");
        Path dead = tmp.resolve("dead.jsonl");
        String bad = ROOT.resolve("examples/events/bad.jsonl").toString();
        CliRunner.Result r = CliRunner.run("score", "--model", MODEL.toString(), "--input", bad, "--output",
                out.toString(), "--dead-letter", dead.toString(), "--quiet");
        assertEquals(0, r.status(), r.err());
        List<String> lines = Files.readAllLines(Path.of(bad));
        List<String> scores = Files.readAllLines(out);
        List<String> letters = Files.readAllLines(dead);
        assertEquals(lines.size(), scores.size() + letters.size(), "every line is scored or dead-lettered");
        assertTrue(scores.size() >= 3 && letters.size() >= 5, scores.size() + " scores, " + letters.size() + " letters");
        for (String l : letters) {
            DeadLetter d = Json.parseDeadLetter(l);
            int line = Integer.parseInt(d.source().substring(d.source().lastIndexOf(':') + 1));
            assertEquals(bad + ":" + line, d.source());
            assertEquals(lines.get(line - 1), d.raw(), "raw is the original line");
            assertFalse(d.error().isBlank());
        }
        String all = String.join("\n", letters);
        assertTrue(all.contains("token 9000 out of range [0, 512)"), all);
        assertTrue(all.contains("missing key"), all);
        assertTrue(all.contains("not valid JSON"), all);
        // Seq counts only accepted events: card-4411's accepted events are numbered 0, 1, 2, ...
        long seq = 0;
        for (String s : scores) {
            Score sc = Json.parseScore(s);
            if (sc.key().equals("card-4411")) {
                assertEquals(seq++, sc.seq());
            }
        }
    }

    @Test
    void duplicateFieldsAndBadUnicodeAreDeadLettered() throws IOException {
        Path in = tmp.resolve("strict.jsonl");
        Files.writeString(in, "{\"key\": \"card-\\ud83d\\ude00\", \"token\": 17, \"id\": \"\u00e9\ud83d\ude00\"}\n"
                + "{\"key\": \"card-4411\", \"key\": \"card-0007\", \"token\": 3}\n"
                + "{\"key\": \"card-\\ud800\", \"token\": 3}\n"
                + "{\"key\": \"card-4411\", \"token\": 3, \"id\": \"x\\udc00\"}\n");
        byte[] notUtf8 = "{\"key\": \"card-?\", \"token\": 3}\n".getBytes(StandardCharsets.US_ASCII);
        notUtf8[14] = (byte) 0xff;
        Files.write(in, notUtf8, StandardOpenOption.APPEND);
        Path out = tmp.resolve("scores.jsonl");
        Path dead = tmp.resolve("dead.jsonl");
        CliRunner.Result r = CliRunner.run("score", "--model", MODEL.toString(), "--input", in.toString(), "--output",
                out.toString(), "--dead-letter", dead.toString(), "--quiet");
        assertEquals(0, r.status(), r.err());
        List<String> scores = Files.readAllLines(out);
        assertEquals(1, scores.size(), String.join("\n", scores));
        Score s = Json.parseScore(scores.get(0));
        assertEquals("card-\ud83d\ude00", s.key());
        assertEquals("\u00e9\ud83d\ude00", s.id());
        List<String> errors = Files.readAllLines(dead).stream().map(l -> Json.parseDeadLetter(l).error()).toList();
        assertEquals(List.of("duplicate field \"key\"", "key is not valid Unicode (unpaired surrogate \\ud800 at char 5)",
                "id is not valid Unicode (unpaired surrogate \\udc00 at char 1)", "not valid UTF-8 (byte 0xff at offset 14)"),
                errors);
    }

    @Test
    void inspectPrintsArchitectureParametersAndStateBytes() {
        CliRunner.Result r = CliRunner.run("inspect", "--model", MODEL.toString());
        assertEquals(0, r.status(), r.err());
        assertTrue(r.out().contains("reference-lru"), r.out());
        assertTrue(r.out().contains("block 0     lru d_state 128, post glu"), r.out());
        // 2 LRU blocks (re+im of 128) + head y (64) = 576 floats, + 8-byte position.
        assertTrue(r.out().contains("2,312 bytes per key (576 floats + 8-byte position)"), r.out());
        assertTrue(r.out().matches("(?s).*parameters\\s+[0-9,]+.*"), r.out());
    }

    @Test
    void errorsAreOneClearLineAndNonZero() throws IOException {
        CliRunner.Result r = CliRunner.run("score", "--model", tmp.resolve("missing").toString(), "--input",
                EVENTS.toString(), "--output", tmp.resolve("o").toString());
        assertEquals(1, r.status());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("no such model directory"), r.err());

        r = CliRunner.run("score", "--model", MODEL.toString(), "--input", tmp.resolve("nope.jsonl").toString(),
                "--output", tmp.resolve("o").toString());
        assertEquals(1, r.status());
        assertTrue(r.err().strip().startsWith("lseq score: no such input file: "), r.err());

        Path broken = Files.createDirectories(tmp.resolve("broken"));
        Files.copy(MODEL.resolve("model.safetensors"), broken.resolve("model.safetensors"));
        Files.writeString(broken.resolve("config.json"), Files.readString(MODEL.resolve("config.json"))
                .replace("\"lru\"", "\"mamba\""));
        r = CliRunner.run("inspect", "--model", broken.toString());
        assertEquals(1, r.status());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("config.json: field blocks[0].mixer.type: unknown mixer type \"mamba\""), r.err());

        r = CliRunner.run("score", "--model", MODEL.toString(), "--bogus");
        assertEquals(2, r.status());
        assertTrue(r.err().contains("unknown option --bogus"), r.err());
        r = CliRunner.run("frobnicate");
        assertEquals(2, r.status());
    }

    @Test
    void everyCommandHasHelp() {
        for (String cmd : new String[] {"score", "inspect"}) {
            CliRunner.Result r = CliRunner.run(cmd, "--help");
            assertEquals(0, r.status());
            assertTrue(r.out().startsWith("usage: lseq " + cmd), r.out());
            assertTrue(r.out().contains("--model DIR"), r.out());
        }
        CliRunner.Result r = CliRunner.run("--help");
        assertTrue(r.out().contains("score") && r.out().contains("inspect"), r.out());
    }

    /** The launcher script itself, as a user runs it (needs the packaged jar: mvn verify). */
    @Test
    void launcherScriptRuns() throws Exception {
        assumeTrue(Files.isDirectory(ROOT.resolve("cli/target/lib")), "cli not packaged (run mvn verify)");
        Process p = new ProcessBuilder(ROOT.resolve("bin/lseq").toString(), "inspect", "--model", MODEL.toString())
                .redirectErrorStream(true).start();
        String text = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), text);
        assertTrue(text.contains("bytes per key"), text);
    }
}
