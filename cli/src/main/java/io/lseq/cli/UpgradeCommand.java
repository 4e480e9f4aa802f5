package io.lseq.cli;

import io.lseq.connectors.Endpoint;
import io.lseq.connectors.kafka.KafkaHistory;
import io.lseq.connectors.kafka.KafkaIO;
import io.lseq.core.model.Model;
import io.lseq.flink.job.JobOptions;
import io.lseq.flink.savepoint.SourceOffsets;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.flink.api.common.JobID;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code lseq upgrade}: moves a running scoring job to a new model in one command, as if the new
 * model had always run. (1) {@code lseq stop}: stop-with-savepoint; (2) {@code lseq backfill}
 * of the new model over the history up to the savepoint's source positions
 * ({@code --until-savepoint}), which commits those positions for the new job's consumer group;
 * (3) {@code lseq run --from-savepoint} of the backfill's savepoint. Nothing is lost or repeated:
 * the history ends where the stopped job stood, and the new job starts right there.
 *
 * <p>Everything that can be checked before the stop is (the new job's options, its model, the
 * job jar); if phase 2 or 3 fails, the stop's savepoint is untouched and still resumes the old
 * model, and the command prints the {@code lseq run} line that does it.
 */
@Command(name = "upgrade", mixinStandardHelpOptions = true,
        header = "move a job on a Flink cluster to a new model: stop with a savepoint, backfill the new model, start it",
        customSynopsis = "lseq upgrade --jobmanager HOST:PORT --job ID --model NEW --source kafka://... --sink SINK "
            + "[--history SRC] [--old-model DIR] [options of lseq run]",
        description = "Three phases, each reported on standard error: (1) stop job ID with a savepoint (as lseq stop); "
            + "(2) backfill --model NEW over the history (default: the job's Kafka --source topic) up to the positions "
            + "that savepoint recorded, in this process or with --backfill-on-cluster as a BATCH job, and commit them "
            + "for the new job's consumer group; (3) lseq run the new model from the backfill's savepoint, with the "
            + "options given here (those of lseq run, for the new job), and print its job id. Every key's state is then "
            + "the new model's over its whole history, and the new job continues exactly where the old one stopped. "
            + "If phase 2 or 3 fails, the old savepoint is untouched: the command prints how to resume the old model "
            + "from it and exits 1.")
public final class UpgradeCommand implements Callable<Integer> {
    @Option(names = "--job", paramLabel = "ID", required = true,
            description = "the running job to upgrade (lseq run --jobmanager prints it) (required)")
    String jobId;
    @Option(names = "--history", paramLabel = "SRC", description = "the history to backfill the new model over: "
            + "kafka://HOST:PORT/TOPIC (default: --source), or a JSON Lines file holding exactly what the job read before "
            + "the stop")
    String history;
    @Option(names = "--old-model", paramLabel = "DIR", description = "the model the job runs, only to print the exact "
            + "command that resumes it if the upgrade fails")
    Path oldModel;
    @Option(names = "--old-group-id", paramLabel = "ID", description = "the consumer group the stopped job read with "
            + "(default: --group-id if given, else lseq-NAME of --old-model, else the new job's)")
    String oldGroupId;
    @Option(names = "--savepoint", paramLabel = "DIR", description = "where the stop's savepoint goes (default: the "
            + "cluster's execution.checkpointing.savepoint-dir); the backfill's goes beside it")
    String savepointDir;
    @Option(names = "--backfill-on-cluster", description = "run the backfill as a Flink BATCH job on the cluster at "
            + "--parallelism, instead of in this process")
    boolean backfillOnCluster;
    @Option(names = "--device", paramLabel = "D", completionCandidates = BackfillCommand.Devices.class,
            description = "the backfill's device: auto, cpu or gpu (default auto, as lseq backfill)")
    String device = "auto";
    @Option(names = "--stop-timeout", paramLabel = "SECONDS",
            description = "how long to wait for the stop's savepoint (default 600)")
    int stopTimeout = 600;
    /** The new job: every option of lseq run, parsed and checked by it. */
    @Mixin
    RunCommand job;
    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        // Phase 0: everything that can be wrong before the job is stopped.
        if (job.jobmanager == null) {
            throw new UsageException("--jobmanager is required: the cluster the job runs on");
        }
        if (job.fromSavepoint != null || job.resetState || job.untilEnd) {
            throw new UsageException("--from-savepoint, --reset-state and --until-end are not for lseq upgrade: the new "
                    + "job starts from the backfill's savepoint");
        }
        JobID id = ClusterStop.jobId(jobId);
        JobOptions o = job.options();
        if (!o.source.kafka()) {
            throw new UsageException("--source must be a Kafka topic: a job over a file has no stop point to continue from");
        }
        Model model = Model.load(job.model);
        Endpoint historySource = history();
        String group = o.groupId != null ? o.groupId : KafkaIO.defaultGroupId(model.config().name());
        String jobGroup = oldGroup(group);
        RunCommand.jobJar(); // phase 3 needs it: fail now, not after the stop

        say("1/3 stopping job " + id + " on " + job.jobmanager + " with a savepoint");
        String old = ClusterStop.stopWithSavepoint(job.jobmanager, id, savepointDir, false, stopTimeout);
        say("1/3 done: job " + id + " stopped; its savepoint " + old + " resumes the old model");

        String phase = "2/3 backfill";
        try {
            String backfilled = backfillSavepoint(old, model);
            say("2/3 backfilling " + job.model + " over " + historySource + " up to the savepoint's positions"
                    + (backfillOnCluster ? " as a BATCH job on " + job.jobmanager : " in this process"));
            String sp = backfill(historySource, old, backfilled, group, jobGroup);
            if (!historySource.kafka()) {
                // A file history says nothing of positions: the new job starts where the old one stopped.
                KafkaHistory.commit(o.source, o.kafkaProperties, group,
                        SourceOffsets.historyStop(old, o.source, o.kafkaProperties, jobGroup));
            }
            say("2/3 done: savepoint " + sp + "; the savepoint's positions committed for group " + group);
            phase = "3/3 start";
            say("3/3 starting " + job.model + " from " + sp);
            job.fromSavepoint = sp;
            job.call(); // prints the new job's id
            say("3/3 done: the new model runs; the old savepoint " + old + " is no longer needed");
            return 0;
        } catch (Exception e) {
            System.err.println("lseq upgrade: " + phase + " failed: " + (e.getMessage() != null ? e.getMessage() : e));
            if (System.getenv("LSEQ_DEBUG") != null) {
                e.printStackTrace();
            }
            System.err.println("lseq upgrade: job " + id + " is stopped; its savepoint is untouched and resumes the old "
                    + "model with nothing lost or repeated:");
            System.err.println("  " + resumeCommand(old));
            return 1;
        }
    }

    /** The history to backfill: {@code --history}, or the job's own topic. */
    private Endpoint history() {
        String text = history != null ? history : job.source;
        try {
            Endpoint e = text.contains(":") ? Endpoint.parse("--history", text) : new Endpoint(false, null, text);
            if (!e.kafka() && !Files.isRegularFile(Path.of(e.target()))) {
                throw new UsageException("--history " + e.target() + ": no such file");
            }
            return e;
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
    }

    /** The consumer group the stopped job read with (where a partition it had not read yet would start). */
    private String oldGroup(String newGroup) {
        if (oldGroupId != null) {
            return oldGroupId;
        }
        if (job.groupId == null && oldModel != null) {
            return KafkaIO.defaultGroupId(Model.load(oldModel).config().name());
        }
        return newGroup;
    }

    /** Where the backfill's savepoint goes: beside the stop's, named after it and the new model. */
    private String backfillSavepoint(String old, Model model) {
        String beside = old.replaceAll("/+$", "") + "-backfill-" + model.config().name().replaceAll("[^A-Za-z0-9._-]", "_");
        if (backfillOnCluster || !beside.startsWith("file:")) {
            if (!backfillOnCluster && RunCommand.hasScheme(beside)) {
                throw new IllegalStateException("the savepoint " + old + " is not on a local file system, where a "
                        + "backfill in this process writes; add --backfill-on-cluster");
            }
            return beside;
        }
        return Path.of(URI.create(beside)).toString();
    }

    /** Phase 2 as lseq backfill does it, with the new job's group, Kafka properties and max parallelism. */
    private String backfill(Endpoint historySource, String old, String target, String group, String jobGroup)
            throws Exception {
        BackfillCommand b = new BackfillCommand();
        b.modelDir = job.model;
        b.input = historySource.toString();
        b.savepointDir = target;
        b.untilSavepoint = historySource.kafka() ? old : null;
        b.savepointJobGroup = jobGroup;
        b.groupId = group;
        b.kafkaProperties = job.kafkaProperties;
        b.maxParallelism = job.maxParallelism;
        b.device = device;
        if (backfillOnCluster) {
            b.jobmanager = job.jobmanager;
            b.parallelism = job.parallelism;
        }
        return b.backfill();
    }

    /**
     * {@code lseq run} of the old model from the stop's savepoint, with the options given here for
     * the new job (source, sink, delivery, ...; secrets in Kafka properties masked).
     */
    String resumeCommand(String old) {
        List<String> argv = new ArrayList<>(List.of("lseq", "run", "--jobmanager", job.jobmanager.toString(), "--model",
                oldModel != null ? oldModel.toString() : "MODEL_THE_JOB_RAN", "--from-savepoint", old));
        CommandSpec run = spec.mixins().get("job");
        for (OptionSpec option : spec.commandLine().getParseResult().matchedOptions()) {
            if (!run.options().contains(option) || option.longestName().equals("--model")
                    || option.longestName().equals("--jobmanager")) {
                continue;
            }
            if (option.arity().max() == 0) {
                argv.add(option.longestName());
                continue;
            }
            for (String value : option.originalStringValues()) {
                argv.add(option.longestName());
                argv.add(value.matches("(?i).*(password|secret|jaas).*=.*") ? value.replaceAll("=.*", "=...") : value);
            }
        }
        return String.join(" ", argv.stream().map(UpgradeCommand::quoted).toList());
    }

    /** A word as a POSIX shell reads it back. */
    private static String quoted(String word) {
        return word.matches("[A-Za-z0-9_@%+=:,./-]+") ? word : "'" + word.replace("'", "'\\''") + "'";
    }

    private static void say(String line) {
        System.err.println("lseq upgrade: " + line);
    }
}
