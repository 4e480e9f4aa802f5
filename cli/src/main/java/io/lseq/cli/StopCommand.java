package io.lseq.cli;

import java.util.concurrent.Callable;
import org.apache.flink.api.common.JobID;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code lseq stop}: stops a job on a Flink cluster with a savepoint, the way to pause, move or
 * upgrade a scoring job without losing or repeating an event. Sources stop at a checkpoint
 * barrier, the sinks commit what precedes it, and the savepoint records the rest.
 */
@Command(name = "stop", mixinStandardHelpOptions = true,
        header = "stop a job on a Flink cluster with a savepoint (to resume or upgrade it with lseq run --from-savepoint)",
        customSynopsis = "lseq stop --jobmanager HOST:PORT --job ID [--savepoint DIR]",
        description = "Stops the job with a savepoint and prints the savepoint's path. Everything the job emitted before "
            + "the savepoint is committed; lseq run --from-savepoint PATH continues from it with nothing lost or repeated, "
            + "with the same model, a retrained one of the same architecture, or (--reset-state) another architecture.")
public final class StopCommand implements Callable<Integer> {
    @Option(names = "--jobmanager", paramLabel = "HOST:PORT", required = true,
            description = "the Flink cluster's REST endpoint (required)")
    JobManagerAddress address;
    @Option(names = "--job", paramLabel = "ID", required = true,
            description = "the job id (lseq run --jobmanager prints it) (required)")
    String jobId;
    @Option(names = "--savepoint", paramLabel = "DIR",
            description = "where the savepoint goes (default: the cluster's execution.checkpointing.savepoint-dir)")
    String savepoint;
    @Option(names = "--drain", description = "end event time first (fires every timer), for a job that will not be resumed")
    boolean drain;
    @Option(names = "--timeout", paramLabel = "SECONDS", description = "how long to wait for the savepoint (default 600)")
    int timeout = 600;

    @Override
    public Integer call() throws Exception {
        JobID job = ClusterStop.jobId(jobId);
        System.err.println("lseq stop: stopping job " + job + " on " + address + " with a savepoint");
        String path = ClusterStop.stopWithSavepoint(address, job, savepoint, drain, timeout);
        System.out.println(path);
        System.err.println("lseq stop: job " + job + " stopped; resume with lseq run --from-savepoint " + path);
        return 0;
    }
}
