package io.lseq.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lseq.cli.CliRunner;
import io.lseq.core.testing.TestModels;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code lseq run} refuses bad command lines with one line that says what to change. */
class RunCommandTest {
    static final String MODEL = TestModels.repoRoot().resolve("examples/models/reference-lru").toString();
    static final String EVENTS = "file:" + TestModels.repoRoot().resolve("examples/events/sample.jsonl");

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "--source|events.jsonl|--source: expected file:PATH or kafka://HOST:PORT/TOPIC",
        "--sink|kafka://localhost/scores|--sink: 'localhost' is not HOST:PORT",
        "--source|file:/no/such/file.jsonl|--source file:/no/such/file.jsonl: no such file",
        "--checkpoint-interval|soon|--checkpoint-interval must be a positive duration",
        "--state-ttl|-5s|--state-ttl must be a positive duration",
        "--state-backend|leveldb|--state-backend must be hashmap or rocksdb",
        "--parallelism|0|--parallelism must be a positive integer",
        "--kafka-property|acks|--kafka-property needs KEY=VALUE",
        "--jobmanager|localhost|--jobmanager must be HOST:PORT",
        "--jobmanager|localhost:99999|--jobmanager port must be 1..65535, got '99999'",
        "--delivery|at-most-once|--delivery must be exactly-once or at-least-once, got 'at-most-once'",
        "--delivery|at-least-once|--delivery at-least-once is for a Kafka --sink: a file sink commits its part files at checkpoints",
    })
    void badOptionsAreOneLineAndStatusTwo(String option, String value, String message) {
        String[] argv = {"run", "--model", MODEL, "--source", EVENTS, "--sink", "file:/tmp/lseq-never", option, value};
        if (option.equals("--source") || option.equals("--sink")) {
            argv = new String[] {"run", "--model", MODEL, "--source", option.equals("--source") ? value : EVENTS,
                "--sink", option.equals("--sink") ? value : "file:/tmp/lseq-never"};
        }
        CliRunner.Result r = CliRunner.run(argv);
        assertEquals(2, r.status(), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains(message), r.err());
    }

    @org.junit.jupiter.api.Test
    void resetStateNeedsASavepoint() {
        CliRunner.Result r = CliRunner.run("run", "--model", MODEL, "--source", EVENTS, "--sink", "file:/tmp/lseq-never",
                "--reset-state");
        assertEquals(2, r.status(), r.err());
        assertTrue(r.err().contains("--reset-state needs --from-savepoint"), r.err());
    }

    @org.junit.jupiter.api.Test
    void atLeastOnceHasNoTransactionalIdPrefix() {
        CliRunner.Result r = CliRunner.run("run", "--model", MODEL, "--source", EVENTS, "--sink", "kafka://127.0.0.1:9/s",
                "--delivery", "at-least-once", "--transactional-id-prefix", "p");
        assertEquals(2, r.status(), r.err());
        assertTrue(r.err().contains("--transactional-id-prefix is for --delivery exactly-once"), r.err());
    }

    @org.junit.jupiter.api.Test
    void runHelpListsDelivery() {
        CliRunner.Result r = CliRunner.run("run", "--help");
        assertEquals(0, r.status());
        assertTrue(r.out().contains("--delivery=MODE") && r.out().contains("at-least-once"), r.out());
    }

    @org.junit.jupiter.api.Test
    void stopNeedsAJobId() {
        CliRunner.Result r = CliRunner.run("stop", "--jobmanager", "127.0.0.1:8081", "--job", "latest");
        assertEquals(2, r.status(), r.err());
        assertTrue(r.err().contains("--job must be a job id of 32 hex digits, got 'latest'"), r.err());
    }

    @ParameterizedTest
    @CsvSource({"run", "stop", "score", "inspect", "backfill"})
    void helpListsEveryOption(String cmd) {
        CliRunner.Result r = CliRunner.run(cmd, "--help");
        assertEquals(0, r.status());
        assertTrue(r.out().startsWith("usage: lseq " + cmd), r.out());
    }
}
