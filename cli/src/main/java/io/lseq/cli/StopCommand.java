package io.lseq.cli;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.JobID;
import org.apache.flink.client.program.rest.RestClusterClient;
import org.apache.flink.client.deployment.StandaloneClusterId;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.core.execution.SavepointFormatType;

/**
 * {@code lseq stop}: stops a job on a Flink cluster with a savepoint, the way to pause, move or
 * upgrade a scoring job without losing or repeating an event. Sources stop at a checkpoint
 * barrier, the sinks commit what precedes it, and the savepoint records the rest.
 */
public final class StopCommand implements Command {
    @Override
    public String name() {
        return "stop";
    }

    @Override
    public String summary() {
        return "stop a job on a Flink cluster with a savepoint (to resume or upgrade it with lseq run --from-savepoint)";
    }

    @Override
    public Args args() {
        return new Args("lseq stop --jobmanager HOST:PORT --job ID [--savepoint DIR]",
                "Stops the job with a savepoint and prints the savepoint's path. Everything the job emitted before the\n"
                        + "savepoint is committed; lseq run --from-savepoint PATH continues from it with nothing lost or\n"
                        + "repeated, with the same model, a retrained one of the same architecture, or (--reset-state)\n"
                        + "another architecture.")
                .required("jobmanager", "HOST:PORT", "the Flink cluster's REST endpoint")
                .required("job", "ID", "the job id (lseq run --jobmanager prints it)")
                .optional("savepoint", "DIR", "where the savepoint goes (default: the cluster's "
                        + "execution.checkpointing.savepoint-dir)")
                .flag("drain", "end event time first (fires every timer), for a job that will not be resumed")
                .optional("timeout", "SECONDS", "how long to wait for the savepoint (default 600)");
    }

    @Override
    public int run(Args a) throws Exception {
        JobManagerAddress address = JobManagerAddress.parse(a.get("jobmanager"));
        JobID job;
        try {
            job = JobID.fromHexString(a.get("job"));
        } catch (IllegalArgumentException e) {
            throw new UsageException("--job must be a job id of 32 hex digits, got '" + a.get("job") + "'");
        }
        int timeout = a.positiveInt("timeout", 600);
        String dir = a.get("savepoint", null);
        if (dir != null && !RunCommand.hasScheme(dir)) {
            dir = Path.of(dir).toAbsolutePath().normalize().toUri().toString(); // the JobManager's cwd is not ours
        }
        Configuration conf = new Configuration();
        conf.set(RestOptions.ADDRESS, address.host());
        conf.set(RestOptions.PORT, address.port());
        try (RestClusterClient<StandaloneClusterId> client =
                new RestClusterClient<>(conf, StandaloneClusterId.getInstance())) {
            System.err.println("lseq stop: stopping job " + job + " on " + address + " with a savepoint");
            String path = client.stopWithSavepoint(job, a.has("drain"), dir,
                    SavepointFormatType.CANONICAL).get(timeout, TimeUnit.SECONDS);
            System.out.println(path);
            System.err.println("lseq stop: job " + job + " stopped; resume with lseq run --from-savepoint " + path);
            return 0;
        }
    }
}
