package io.lseq.cli;

import io.lseq.connectors.Endpoint;
import io.lseq.flink.backfill.BackfillJob;
import io.lseq.flink.job.ModelSource;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;

/**
 * The job jar's entry class of the cluster backfill, for Flink's own submission paths
 * ({@code flink run -c io.lseq.cli.BackfillJobMain lseq-job.jar --model ... --input ... --savepoint ...},
 * the web UI): takes the options of {@code lseq backfill} except {@code --jobmanager}, runs the
 * BATCH job where Flink runs this method, and for Kafka commits the stop offsets once it has
 * finished. The model directory and a file input are read where this method runs (the client of
 * {@code flink run}) and by the TaskManagers.
 */
public final class BackfillJobMain {
    private BackfillJobMain() {}

    public static void main(String[] argv) throws Exception {
        String[] backfill = new String[argv.length + 1];
        backfill[0] = "backfill";
        System.arraycopy(argv, 0, backfill, 1, argv.length);
        BackfillJob.Options o;
        BackfillCommand command;
        try {
            ParseResult parsed = Main.commandLine().parseArgs(backfill);
            if (CommandLine.executeHelpRequest(parsed) != null) {
                return;
            }
            command = (BackfillCommand) parsed.subcommand().commandSpec().userObject();
            if (command.jobmanager != null) {
                throw new UsageException("--jobmanager is for lseq backfill; inside a cluster the job runs where it is");
            }
            String in = command.input;
            o = command.clusterOptions(in.contains(":") ? Endpoint.parse("--input", in) : new Endpoint(false, null, in));
        } catch (ParameterException e) {
            throw new IllegalArgumentException("lseq backfill job: " + Main.message(e), e);
        } catch (UsageException | IllegalArgumentException e) {
            throw new IllegalArgumentException("lseq backfill job: " + e.getMessage(), e);
        }
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(BackfillJob.configuration(o));
        BackfillJob.Result r = BackfillJob.run(env, o, ModelSource.read(command.modelDir));
        System.out.println("lseq backfill: " + r.events() + " events, " + r.keys() + " keys; savepoint " + o.savepoint
                + (r.group() == null ? "" : "; offsets committed for group " + r.group()));
    }
}
