package io.lseq.tests.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.lseq.cli.Main;
import io.lseq.core.testing.TestModels;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code lseq run --jobmanager}: the job jar goes to a running cluster over REST, the job id is
 * printed, and the job runs there from the jar alone (a MiniCluster with its REST endpoint here).
 */
class SubmitTest {
    static final Path ROOT = TestModels.repoRoot();

    @TempDir
    Path tmp;

    @Test
    void submitsTheJobJarToARunningCluster() throws Exception {
        Path jar = ROOT.resolve("cli/target/lseq-job.jar");
        assumeTrue(Files.isRegularFile(jar), "the job jar is built by mvn package (mvn verify)");
        System.setProperty("lseq.job.jar", jar.toString());
        Configuration conf = new Configuration();
        conf.set(RestOptions.BIND_PORT, "0");
        try (MiniCluster cluster = new MiniCluster(new MiniClusterConfiguration.Builder().setConfiguration(conf)
                .setNumTaskManagers(1).setNumSlotsPerTaskManager(2).build())) {
            cluster.start();
            int port = cluster.getRestAddress().get().getPort();
            PrintStream oldOut = System.out;
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            int status;
            try {
                System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
                status = Main.run(new String[] {"run", "--jobmanager", "127.0.0.1:" + port,
                    "--model", ROOT.resolve("examples/models/reference-lru").toString(),
                    "--source", "file:" + ROOT.resolve("examples/events/sample.jsonl"),
                    "--sink", "file:" + tmp.resolve("scores"), "--checkpoint-interval", "1s"});
            } finally {
                System.setOut(oldOut);
            }
            assertEquals(0, status);
            String id = out.toString(StandardCharsets.UTF_8).strip();
            assertTrue(id.matches("[0-9a-f]{32}"), "prints the job id: " + id);
            JobID job = JobID.fromHexString(id);
            JobStatus s = cluster.requestJobResult(job).get().getApplicationStatus().deriveJobStatus();
            assertEquals(JobStatus.FINISHED, s);
            assertEquals(Files.readAllLines(ROOT.resolve("examples/events/sample-expected.jsonl")).size(),
                    Jobs.committedLines(tmp.resolve("scores")).size());
        } finally {
            System.clearProperty("lseq.job.jar");
        }
    }
}
