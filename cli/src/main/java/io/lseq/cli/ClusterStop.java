package io.lseq.cli;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.JobID;
import org.apache.flink.client.deployment.StandaloneClusterId;
import org.apache.flink.client.program.rest.RestClusterClient;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.core.execution.SavepointFormatType;

/**
 * Flink's stop-with-savepoint over REST (canonical format), as {@code lseq stop} and
 * {@code lseq upgrade} do it: the sources stop at a barrier, the sinks commit what precedes it,
 * and the savepoint holds the source positions and key states.
 */
final class ClusterStop {
    private ClusterStop() {}

    /** Parses {@code --job ID}, or throws a {@link UsageException} saying what a job id looks like. */
    static JobID jobId(String text) {
        try {
            return JobID.fromHexString(text);
        } catch (IllegalArgumentException e) {
            throw new UsageException("--job must be a job id of 32 hex digits, got '" + text + "'");
        }
    }

    /**
     * Stops {@code job} with a savepoint and returns its path.
     *
     * @param dir where the savepoint goes (a local path is made absolute: the JobManager's working
     *     directory is not ours); null for the cluster's {@code execution.checkpointing.savepoint-dir}
     * @param drain end event time first (fires every timer), for a job that will not be resumed
     */
    static String stopWithSavepoint(JobManagerAddress address, JobID job, String dir, boolean drain, int timeoutSeconds)
            throws Exception {
        String target = dir;
        if (target != null && !RunCommand.hasScheme(target)) {
            target = Path.of(target).toAbsolutePath().normalize().toUri().toString();
        }
        Configuration conf = new Configuration();
        conf.set(RestOptions.ADDRESS, address.host());
        conf.set(RestOptions.PORT, address.port());
        try (RestClusterClient<StandaloneClusterId> client =
                new RestClusterClient<>(conf, StandaloneClusterId.getInstance())) {
            return client.stopWithSavepoint(job, drain, target, SavepointFormatType.CANONICAL)
                    .get(timeoutSeconds, TimeUnit.SECONDS);
        }
    }
}
