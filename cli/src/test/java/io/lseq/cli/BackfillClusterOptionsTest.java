package io.lseq.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The command line of the cluster backfill: {@code --jobmanager}, {@code --parallelism} and
 * their checks, the help that names them, and the job jar's entry class refusing
 * {@code --jobmanager}. (The job itself runs in flink-jobs' and tests' tests.)
 */
class BackfillClusterOptionsTest {
    static final String MODEL = Path.of("../examples/models/reference-lru").toAbsolutePath().normalize().toString();
    static final String EVENTS = Path.of("../examples/events/sample.jsonl").toAbsolutePath().normalize().toString();

    @TempDir
    Path tmp;

    @Test
    void helpNamesTheClusterOptions() {
        CliRunner.Result r = CliRunner.run("backfill", "--help");
        assertEquals(0, r.status(), r.err());
        assertTrue(r.out().contains("--jobmanager=HOST:PORT") && r.out().contains("--parallelism=N")
                && r.out().contains("BATCH job"), r.out());
    }

    @Test
    void badClusterCommandLinesAreRefusedBeforeAnythingRuns() throws Exception {
        Path existing = Files.createDirectory(tmp.resolve("sp"));
        String[][] cases = {
            {"--parallelism needs --jobmanager", "--parallelism", "2"},
            {"--parallelism must be 1..128 (--max-parallelism), got 300", "--jobmanager", "127.0.0.1:1",
                "--parallelism", "300"},
            {"--threads must be at least 1, got 0", "--jobmanager", "127.0.0.1:1", "--threads", "0"},
            {"--jobmanager must be HOST:PORT, got 'nowhere'", "--jobmanager", "nowhere"},
        };
        for (String[] c : cases) {
            String[] argv = new String[7 + c.length - 1];
            System.arraycopy(new String[] {"backfill", "--model", MODEL, "--input", EVENTS, "--savepoint",
                tmp.resolve("new").toString()}, 0, argv, 0, 7);
            System.arraycopy(c, 1, argv, 7, c.length - 1);
            CliRunner.Result r = CliRunner.run(argv);
            assertEquals(2, r.status(), r.err());
            assertTrue(r.err().contains(c[0]), r.err());
        }
        CliRunner.Result r = CliRunner.run("backfill", "--model", MODEL, "--input", EVENTS, "--savepoint",
                existing.toString(), "--jobmanager", "127.0.0.1:1");
        assertEquals(2, r.status(), r.err());
        assertTrue(r.err().contains("exists; give a new directory"), r.err());
    }

    @Test
    void theEntryClassRunsWhereItIsAndRefusesJobmanager() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BackfillJobMain.main(
                new String[] {"--model", MODEL, "--input", EVENTS, "--savepoint", tmp.resolve("x").toString(),
                    "--jobmanager", "h:1"}));
        assertTrue(e.getMessage().startsWith("lseq backfill job: --jobmanager is for lseq backfill"), e.getMessage());
    }
}
