package io.lseq.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** {@code lseq --version}, {@code lseq completion} and the form of a bad command line. */
class MainTest {
    @Test
    void versionIsTheBuildsVersion() {
        CliRunner.Result r = CliRunner.run("--version");
        assertEquals(0, r.status(), r.err());
        assertTrue(r.out().matches("lseq \\d+\\.\\d+\\.\\d+(-SNAPSHOT)?\\R"), r.out());
        assertEquals(r.out(), CliRunner.run("score", "--version").out());
    }

    @Test
    void completionScriptCompletesEveryCommandAndOption() {
        CliRunner.Result r = CliRunner.run("completion");
        assertEquals(0, r.status(), r.err());
        String script = r.out();
        assertTrue(script.startsWith("#!/usr/bin/env bash"), script);
        assertTrue(script.contains("complete -F _complete_lseq"), script);
        var commands = Main.commandLine().getSubcommands();
        assertTrue(commands.keySet().containsAll(java.util.List.of("score", "run", "stop", "backfill", "inspect")));
        for (var c : commands.entrySet()) {
            assertTrue(script.contains("_picocli_lseq_" + c.getKey() + "()"), "function for " + c.getKey());
            for (var o : c.getValue().getCommandSpec().options()) {
                assertTrue(script.contains(o.longestName()), c.getKey() + " " + o.longestName());
            }
        }
        assertTrue(script.contains("(\"hashmap\" \"rocksdb\") # --state-backend values"), "the values of --state-backend");
    }

    @Test
    void everyCommandHasHelpThatStartsWithItsUsage() {
        for (String cmd : Main.commandLine().getSubcommands().keySet()) {
            if (!cmd.equals("help")) {
                CliRunner.Result r = CliRunner.run(cmd, "--help");
                assertEquals(0, r.status(), cmd);
                assertTrue(r.out().startsWith("usage: lseq " + cmd), r.out());
            }
        }
        CliRunner.Result none = CliRunner.run();
        assertEquals(2, none.status());
        assertTrue(none.out().startsWith("usage: lseq COMMAND"), none.out());
        assertEquals(none.out(), CliRunner.run("help").out());
    }

    @Test
    void badCommandLinesAreOneLineAndStatusTwo() {
        String[][] cases = {
            {"lseq: unknown command 'frobnicate' (commands: score, run", "frobnicate"},
            {"lseq inspect: unknown option --x (options: --model", "inspect", "--model", "m", "--x", "1"},
            {"lseq inspect: unexpected argument 'm2'", "inspect", "--model", "m", "m2"},
            {"lseq inspect: missing required option: '--model=DIR'", "inspect"},
            {"lseq stop: --timeout must be a positive integer, got '-1'", "stop", "--jobmanager", "h:1", "--job", "x",
                "--timeout", "-1"},
            {"lseq stop: --jobmanager must be HOST:PORT, got 'h'", "stop", "--jobmanager", "h", "--job", "x"},
            {"lseq backfill: --until must be epoch milliseconds, got 'soon'", "backfill", "--model", "m", "--input", "i",
                "--savepoint", "s", "--until", "soon"},
        };
        for (String[] c : cases) {
            CliRunner.Result r = CliRunner.run(java.util.Arrays.copyOfRange(c, 1, c.length));
            assertEquals(2, r.status(), r.err());
            assertTrue(r.err().startsWith(c[0]), r.err());
            assertTrue(r.err().strip().endsWith("--help)"), r.err());
            assertEquals(1, r.err().strip().lines().count(), r.err());
        }
    }

    @Test
    void theJobJarsEntryTakesRunsOptionsButNotJobmanager() {
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> StreamingJobMain.options("--model", "m", "--source", "kafka://h:1/t", "--sink", "kafka://h:1/s",
                        "--jobmanager", "h:8081"));
        assertTrue(e.getMessage().startsWith("lseq job: --jobmanager is for lseq run"), e.getMessage());
        var o = StreamingJobMain.options("--model", "m", "--source", "kafka://h:1/t", "--sink", "kafka://h:1/s",
                "--micro-batch", "8", "--micro-batch-wait", "2ms", "--kafka-property", "acks=all");
        assertEquals(8, o.microBatch);
        assertEquals(java.time.Duration.ofMillis(2), o.microBatchWait);
        assertEquals("all", o.kafkaProperties.getProperty("acks"));
        assertEquals("lseq m", o.jobName);
        assertEquals(org.apache.flink.connector.base.DeliveryGuarantee.EXACTLY_ONCE, o.delivery);
        var alo = StreamingJobMain.options("--model", "m", "--source", "kafka://h:1/t", "--sink", "kafka://h:1/s",
                "--delivery", "at-least-once");
        assertEquals(org.apache.flink.connector.base.DeliveryGuarantee.AT_LEAST_ONCE, alo.delivery);
        IllegalArgumentException bad = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> StreamingJobMain.options("--model", "m", "--source", "kafka://h:1/t", "--sink", "kafka://h:1/s",
                        "--delivery", "at-most-once"));
        assertTrue(bad.getMessage().startsWith("lseq job: --delivery must be exactly-once or at-least-once"), bad.getMessage());
    }

    /** The network buffer timeout and the checkpoint kinds reach the job's Flink configuration. */
    @Test
    void bufferTimeoutAndCheckpointKindsReachTheJobsConfiguration() {
        String[] base = {"--model", "m", "--source", "kafka://h:1/t", "--sink", "kafka://h:1/s"};
        var defaults = io.lseq.flink.job.ScoringJob.configuration(StreamingJobMain.options(base));
        assertTrue(defaults.getOptional(org.apache.flink.configuration.ExecutionOptions.BUFFER_TIMEOUT).isEmpty(),
                "Flink's own default unless asked");
        assertEquals(false, defaults.get(org.apache.flink.configuration.CheckpointingOptions.ENABLE_UNALIGNED));
        String[] more = java.util.stream.Stream.concat(java.util.Arrays.stream(base), java.util.stream.Stream.of(
                "--buffer-timeout", "0", "--unaligned-checkpoints", "--state-backend", "rocksdb",
                "--incremental-checkpoints")).toArray(String[]::new);
        var c = io.lseq.flink.job.ScoringJob.configuration(StreamingJobMain.options(more));
        assertEquals(java.time.Duration.ZERO, c.get(org.apache.flink.configuration.ExecutionOptions.BUFFER_TIMEOUT));
        assertEquals(true, c.get(org.apache.flink.configuration.CheckpointingOptions.ENABLE_UNALIGNED));
        assertEquals(true, c.get(org.apache.flink.configuration.CheckpointingOptions.INCREMENTAL_CHECKPOINTS));
        CliRunner.Result negative = CliRunner.run("run", "--model", "m", "--source", "file:x", "--sink", "file:y",
                "--buffer-timeout", "-1ms");
        assertEquals(2, negative.status());
        assertTrue(negative.err().contains("--buffer-timeout"), negative.err());
        CliRunner.Result incremental = CliRunner.run("run", "--model", "m", "--source", "file:x", "--sink", "file:y",
                "--incremental-checkpoints");
        assertEquals(2, incremental.status());
        assertTrue(incremental.err().contains("--incremental-checkpoints needs --state-backend rocksdb"), incremental.err());
    }
}
