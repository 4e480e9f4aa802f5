package io.lseq.cli;

import io.lseq.flink.job.JobOptions;
import io.lseq.flink.job.ScoringJob;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * The job jar's entry class, for Flink's own submission paths ({@code flink run lseq-job.jar ...},
 * the Kubernetes operator's {@code job.args}, the web UI). Takes the options of {@code lseq run}
 * except {@code --jobmanager}; the cluster's configuration decides the rest.
 */
public final class StreamingJobMain {
    private StreamingJobMain() {}

    public static void main(String[] argv) throws Exception {
        Args args = new RunCommand().args();
        try {
            if (!args.parse(argv)) {
                System.out.print(args.help());
                return;
            }
            if (args.has("jobmanager")) {
                throw new UsageException("--jobmanager is for lseq run; inside a cluster the job runs where it is");
            }
        } catch (UsageException e) {
            throw new IllegalArgumentException("lseq job: " + e.getMessage(), e);
        }
        JobOptions o = RunCommand.options(args);
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(ScoringJob.configuration(o));
        ScoringJob.build(env, o);
        env.execute(o.jobName);
    }
}
