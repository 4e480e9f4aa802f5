package io.lseq.cli;

import io.lseq.flink.job.JobOptions;
import io.lseq.flink.job.ScoringJob;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;

/**
 * The job jar's entry class, for Flink's own submission paths ({@code flink run lseq-job.jar ...},
 * the Kubernetes operator's {@code job.args}, the web UI). Takes the options of {@code lseq run}
 * except {@code --jobmanager}; the cluster's configuration decides the rest.
 */
public final class StreamingJobMain {
    private StreamingJobMain() {}

    public static void main(String[] argv) throws Exception {
        JobOptions o = options(argv);
        if (o != null) {
            StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(ScoringJob.configuration(o));
            ScoringJob.build(env, o);
            env.execute(o.jobName);
        }
    }

    /**
     * The job options of a command line, or null after printing the help that {@code --help} (or
     * {@code --version}) asked for.
     *
     * @throws IllegalArgumentException {@code lseq job: what is wrong}, for a command line that cannot run
     */
    public static JobOptions options(String... argv) {
        String[] run = new String[argv.length + 1];
        run[0] = "run";
        System.arraycopy(argv, 0, run, 1, argv.length);
        try {
            ParseResult parsed = Main.commandLine().parseArgs(run);
            if (CommandLine.executeHelpRequest(parsed) != null) {
                return null;
            }
            RunCommand command = (RunCommand) parsed.subcommand().commandSpec().userObject();
            if (command.jobmanager != null) {
                throw new UsageException("--jobmanager is for lseq run; inside a cluster the job runs where it is");
            }
            return command.options();
        } catch (ParameterException e) {
            throw new IllegalArgumentException("lseq job: " + Main.message(e), e);
        } catch (UsageException e) {
            throw new IllegalArgumentException("lseq job: " + e.getMessage(), e);
        }
    }
}
