package io.lseq.cli;

import io.lseq.sql.SqlSavepointCheck;
import io.lseq.sql.SqlScript;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.configuration.DeploymentOptions;
import org.apache.flink.configuration.PipelineOptions;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.configuration.StateRecoveryOptions;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.api.ResultKind;
import org.apache.flink.table.api.TableResult;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code lseq sql -f FILE.sql}: runs a Flink SQL script with {@code LSEQ_SCORE} registered, on an
 * embedded MiniCluster or a Flink cluster.
 */
@Command(name = "sql", mixinStandardHelpOptions = true,
        header = "run a Flink SQL script with LSEQ_SCORE (embedded MiniCluster, or a Flink cluster with --jobmanager)",
        customSynopsis = "lseq sql -f FILE.sql [--jobmanager HOST:PORT] [--parallelism N]",
        description = "Runs the statements of FILE (separated by ;) in order, in Flink SQL's streaming mode, with the "
            + "process table function LSEQ_SCORE registered: SELECT * FROM LSEQ_SCORE(input => TABLE events PARTITION "
            + "BY `key`, model => '/models/fraud-lru'). Flink's filesystem, Kafka, JSON and CSV connectors and formats are "
            + "on the classpath; SET 'key' = 'value' sets Flink options (checkpoints, state backend, "
            + "execution.state-recovery.path). Each statement that starts a job prints its job id on standard output. "
            + "Without --jobmanager the jobs run on an embedded MiniCluster in this process and lseq waits for them "
            + "to finish (a Kafka source runs until Ctrl-C), restarting a failed job 3 times; a SELECT prints its rows. With --jobmanager the job jar is "
            + "shipped over REST and lseq returns once the jobs are submitted. See docs/SQL.md.")
public final class SqlCommand implements Callable<Integer> {
    @Option(names = {"-f", "--file"}, paramLabel = "FILE", required = true,
            description = "the SQL script; - for standard input (required)")
    String file;
    @Option(names = "--jobmanager", paramLabel = "HOST:PORT",
            description = "submit to this Flink cluster's REST endpoint instead of running embedded")
    JobManagerAddress jobmanager;
    @Option(names = "--parallelism", paramLabel = "N", description = "default parallelism of the jobs (default 1)")
    int parallelism = 1;

    @Override
    public Integer call() throws Exception {
        String script;
        if (file.equals("-")) {
            script = new String(System.in.readAllBytes(), StandardCharsets.UTF_8);
        } else {
            Path p = Path.of(file);
            if (!Files.isRegularFile(p)) {
                throw new NoSuchFileException(file, null, "no such SQL file");
            }
            script = Files.readString(p, StandardCharsets.UTF_8);
        }
        List<String> statements;
        try {
            statements = SqlScript.split(script);
        } catch (IllegalArgumentException e) {
            throw new UsageException(file + ": " + e.getMessage());
        }
        if (statements.isEmpty()) {
            throw new UsageException(file + " holds no statement");
        }
        Configuration conf = new Configuration();
        conf.set(CoreOptions.DEFAULT_PARALLELISM, parallelism);
        StreamExecutionEnvironment env;
        if (jobmanager == null) {
            // Flink's default with checkpoints is to restart forever: an embedded job that cannot
            // restore (a savepoint of another architecture) would never end. Three tries, then the
            // error; SET 'restart-strategy.type' in the script overrides it.
            conf.setString("restart-strategy.type", "fixed-delay");
            conf.setString("restart-strategy.fixed-delay.attempts", "3");
            conf.setString("restart-strategy.fixed-delay.delay", "1 s");
            env = StreamExecutionEnvironment.createLocalEnvironment(conf);
        } else {
            conf.set(DeploymentOptions.TARGET, "remote");
            conf.set(RestOptions.ADDRESS, jobmanager.host());
            conf.set(RestOptions.PORT, jobmanager.port());
            conf.set(PipelineOptions.JARS, List.of(RunCommand.jobJar().toUri().toString()));
            conf.set(DeploymentOptions.ATTACHED, false);
            env = new StreamExecutionEnvironment(conf);
        }
        StreamTableEnvironment tEnv = SqlScript.environment(env, conf);
        int n = 0;
        for (String statement : statements) {
            n++;
            TableResult r;
            try {
                if (SqlScript.applySet(tEnv, statement)) {
                    continue; // SET 'key' = 'value': the SQL client's statement, which executeSql does not take
                }
                String restore = tEnv.getConfig().get(StateRecoveryOptions.SAVEPOINT_PATH);
                if (restore != null && writes(statement)) {
                    // Refuse another architecture here, not in a task that restarts (lseq run does the same).
                    SqlSavepointCheck.requireCompatible(restore,
                            SqlSavepointCheck.modelsPlannedBy(() -> tEnv.explainSql(statement))); // plans it once more
                }
                r = tEnv.executeSql(statement);
            } catch (RuntimeException e) {
                throw new SqlFailure("statement " + n + " (" + firstLine(statement) + "): " + rootMessage(e), e);
            }
            if (r.getJobClient().isPresent()) {
                System.out.println(r.getJobClient().get().getJobID());
                System.err.println("lseq sql: statement " + n + " started job " + r.getJobClient().get().getJobID()
                        + (jobmanager == null ? " on an embedded MiniCluster" : " on " + jobmanager));
            }
            if (r.getResultKind() == ResultKind.SUCCESS_WITH_CONTENT && !writes(statement)) {
                r.print(); // SELECT, SHOW, DESCRIBE, EXPLAIN
            } else if (r.getJobClient().isPresent() && jobmanager == null) {
                try {
                    r.await(); // the embedded cluster lives as long as this process
                } catch (Exception e) {
                    throw new SqlFailure("statement " + n + " (" + firstLine(statement) + "): job failed: " + rootMessage(e), e);
                }
                System.err.println("lseq sql: job " + r.getJobClient().get().getJobID() + " finished");
            }
        }
        return 0;
    }

    /** Whether the statement is an INSERT or a statement set: its result is only the job. */
    static boolean writes(String statement) {
        String s = statement.replaceAll("(?s)/\\*.*?\\*/", " ").replaceAll("--[^\n]*", " ").strip()
                .toUpperCase(java.util.Locale.ROOT);
        return s.startsWith("INSERT") || s.startsWith("EXECUTE");
    }

    private static String firstLine(String statement) {
        String s = statement.strip().replaceAll("\\s+", " ");
        return s.length() > 60 ? s.substring(0, 57) + "..." : s;
    }

    /** The innermost message: Flink wraps a planning or job error in several layers. */
    private static String rootMessage(Throwable e) {
        Throwable c = e;
        String msg = e.getMessage();
        while (c.getCause() != null && c.getCause() != c) {
            c = c.getCause();
            if (c.getMessage() != null) {
                msg = c.getMessage();
            }
        }
        return msg;
    }

    /** A statement that failed; its message names the statement. */
    static final class SqlFailure extends RuntimeException {
        private static final long serialVersionUID = 1L;

        SqlFailure(String message, Throwable cause) {
            super(message, cause);
        }

        @Override
        public String toString() {
            return getMessage();
        }
    }
}
