package io.lseq.cli;

import io.lseq.flink.savepoint.ResetState;
import io.lseq.flink.savepoint.SavepointCheck;
import io.lseq.connectors.Endpoint;
import io.lseq.flink.job.JobOptions;
import io.lseq.flink.job.ModelSource;
import io.lseq.flink.job.ScoringJob;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code lseq run}: the streaming scoring job, on an embedded MiniCluster or submitted to a
 * running Flink cluster.
 */
@Command(name = "run", mixinStandardHelpOptions = true,
        header = "run the streaming scoring job (embedded MiniCluster, or a Flink cluster with --jobmanager)",
        customSynopsis = "lseq run --model DIR --source SRC --sink SINK [options]",
        description = "Scores every event of every key as it arrives, with each key's recurrent state in Flink keyed state. "
            + "SRC and SINK are file:PATH or kafka://HOST:PORT/TOPIC. A file source is read to its end, then the job "
            + "finishes; a file sink is a directory of part files, committed at checkpoints. Kafka output is exactly-once "
            + "by default (transactions committed at checkpoints; read it with isolation.level=read_committed), or with "
            + "--delivery at-least-once visible within ~0.1 s, where a failure repeats the scores since the last "
            + "checkpoint (same (key, seq), same bytes: deduplicate by (key, seq)). Rejected records go to --dead-letter (default: "
            + "standard error). Without --jobmanager the job runs on an embedded MiniCluster in this process; with it, the "
            + "job jar is submitted over REST and the job id printed.")
public final class RunCommand implements Callable<Integer> {
    @Option(names = "--model", paramLabel = "DIR", required = true,
            description = "model directory (config.json + model.safetensors) (required)")
    Path model;
    @Option(names = "--source", paramLabel = "SRC", required = true,
            description = "events: file:PATH or kafka://HOST:PORT/TOPIC (required)")
    String source;
    @Option(names = "--sink", paramLabel = "SINK", required = true,
            description = "scores: file:DIR or kafka://HOST:PORT/TOPIC (required)")
    String sink;
    @Option(names = "--dead-letter", paramLabel = "SINK", description = "rejected records: file:DIR or kafka://HOST:PORT/TOPIC")
    String deadLetter;
    @Option(names = "--jobmanager", paramLabel = "HOST:PORT",
            description = "submit to this Flink cluster's REST endpoint instead of running embedded")
    JobManagerAddress jobmanager;
    @Option(names = "--parallelism", paramLabel = "N", description = "parallelism of every operator (default 1)")
    int parallelism = 1;
    @Option(names = "--max-parallelism", paramLabel = "N",
            description = "key groups; fixed for the job's life, savepoints need the same (default 128)")
    int maxParallelism = 128;
    @Option(names = "--state-backend", paramLabel = "NAME", completionCandidates = StateBackends.class,
            description = "hashmap or rocksdb (default hashmap)")
    String stateBackend = "hashmap";
    @Option(names = "--checkpoint-dir", paramLabel = "URI", description = "where checkpoints go, e.g. file:///tmp/lseq-checkpoints")
    String checkpointDir;
    @Option(names = "--delivery", paramLabel = "MODE", completionCandidates = Deliveries.class,
            description = "Kafka sinks: exactly-once (default; transactions, visible at checkpoints) or at-least-once "
                + "(visible at once; after a failure scores repeat, deduplicate by (key, seq)); see docs/STREAMING.md")
    String delivery = "exactly-once";
    @Option(names = "--checkpoint-interval", paramLabel = "D",
            description = "checkpoint interval, e.g. 10s (default); exactly-once outputs commit at checkpoints")
    Duration checkpointInterval = Duration.ofSeconds(10);
    @Option(names = "--buffer-timeout", paramLabel = "D", converter = Main.ZeroOrMoreDuration.class, description = "the longest a network buffer waits to fill "
            + "before it is sent on, e.g. 1ms (default: Flink's 100ms; 0 sends every record at once); with --delivery "
            + "at-least-once most of a score's latency")
    Duration bufferTimeout;
    @Option(names = "--unaligned-checkpoints", description = "checkpoint barriers overtake buffered records, so "
            + "backpressure does not delay checkpoints (nor exactly-once outputs)")
    boolean unalignedCheckpoints;
    @Option(names = "--incremental-checkpoints", description = "with --state-backend rocksdb: write only what changed "
            + "since the last checkpoint")
    boolean incrementalCheckpoints;
    @Option(names = "--from-savepoint", paramLabel = "PATH", description = "start from this savepoint or retained checkpoint")
    String fromSavepoint;
    @Option(names = "--reset-state", description = "with --from-savepoint: drop the saved key states (keep source positions), "
            + "e.g. for a model of another architecture; the savepoint is copied, not changed")
    boolean resetState;
    @Option(names = "--state-ttl", paramLabel = "D",
            description = "drop the state of keys idle for longer than this (processing time), e.g. 7d")
    Duration stateTtl;
    @Option(names = "--micro-batch", paramLabel = "N", description = "step up to N events of different keys together "
            + "(faster per event; default 1: each on arrival); see docs/STREAMING.md")
    int microBatch = 1;
    @Option(names = "--micro-batch-wait", paramLabel = "D",
            description = "with --micro-batch: the longest an event waits for its batch (default 5ms)")
    Duration microBatchWait;
    @Option(names = "--kafka-property", paramLabel = "KEY=VALUE", description = "a Kafka client property for every source "
            + "and sink, e.g. security.protocol=SASL_SSL (repeatable)")
    List<String> kafkaProperties = new ArrayList<>();
    @Option(names = "--group-id", paramLabel = "ID", description = "Kafka consumer group of the source (default lseq-MODELNAME)")
    String groupId;
    @Option(names = "--transactional-id-prefix", paramLabel = "P",
            description = "prefix of the Kafka sinks' transactional ids (default lseq); unique per job; exactly-once only")
    String transactionalIdPrefix;
    @Option(names = "--until-end", description = "read a Kafka source only up to its end at start, then finish")
    boolean untilEnd;
    @Option(names = "--job-name", paramLabel = "NAME", description = "the job's name in Flink (default: lseq MODELNAME)")
    String jobName;

    /** The values of --state-backend, for shell completion. */
    static final class StateBackends extends ArrayList<String> {
        private static final long serialVersionUID = 1L;

        StateBackends() {
            super(List.of("hashmap", "rocksdb"));
        }
    }

    /** The values of --delivery, for shell completion. */
    static final class Deliveries extends ArrayList<String> {
        private static final long serialVersionUID = 1L;

        Deliveries() {
            super(List.of("exactly-once", "at-least-once"));
        }
    }

    @Override
    public Integer call() throws Exception {
        JobOptions o = options();
        ModelSource model = ModelSource.read(o.model); // the only read of the model on the client
        if (resetState) {
            if (o.fromSavepoint == null) {
                throw new UsageException("--reset-state needs --from-savepoint (a new job starts with no state anyway)");
            }
            String copy = o.fromSavepoint.replaceAll("/+$", "") + "-reset-" + System.currentTimeMillis();
            System.err.println("lseq run: --reset-state: writing " + copy + " without the key states");
            o.fromSavepoint = ResetState.withoutKeyStates(o.fromSavepoint, copy);
        } else if (o.fromSavepoint != null) {
            // Refuse here, not in a task that the cluster would restart forever.
            SavepointCheck.requireCompatible(o.fromSavepoint, model.clientModel().stateSignature());
        }
        Configuration conf = ScoringJob.configuration(o);
        StreamExecutionEnvironment env;
        if (jobmanager == null) {
            env = StreamExecutionEnvironment.createLocalEnvironment(conf);
        } else {
            env = StreamExecutionEnvironment.createRemoteEnvironment(jobmanager.host(), jobmanager.port(), conf,
                    jobJar().toString());
        }
        ScoringJob.build(env, o, model);
        if (jobmanager != null) {
            JobClient client = env.executeAsync(o.jobName);
            System.out.println(client.getJobID());
            System.err.println("lseq run: submitted job " + client.getJobID() + " (" + o.jobName + ") to " + jobmanager);
            return 0;
        }
        System.err.println("lseq run: running '" + o.jobName + "' on an embedded MiniCluster: " + o.source + " -> " + o.sink
                + (o.delivery == DeliveryGuarantee.AT_LEAST_ONCE ? " at least once" : "")
                + (o.source.kafka() && !o.kafkaUntilEnd ? " (until stopped: Ctrl-C)" : ""));
        JobExecutionResult r = env.execute(o.jobName);
        System.err.printf(Locale.ROOT, "lseq run: job finished in %.1f s; scores in %s%n", r.getNetRuntime() / 1000.0, o.sink);
        return 0;
    }

    /** The job options the parsed command line gives. */
    JobOptions options() {
        JobOptions o = new JobOptions();
        o.model = model;
        o.source = endpoint("--source", source);
        o.sink = endpoint("--sink", sink);
        o.deadLetter = deadLetter != null ? endpoint("--dead-letter", deadLetter) : null;
        o.parallelism = parallelism;
        o.maxParallelism = maxParallelism;
        if (o.parallelism > o.maxParallelism) {
            throw new UsageException("--parallelism " + o.parallelism + " exceeds --max-parallelism " + o.maxParallelism);
        }
        o.stateBackend = stateBackend;
        if (!new StateBackends().contains(stateBackend)) {
            throw new UsageException("--state-backend must be hashmap or rocksdb, got '" + o.stateBackend + "'");
        }
        o.checkpointDir = checkpointDir;
        if (o.checkpointDir != null && !hasScheme(o.checkpointDir)) {
            o.checkpointDir = Path.of(o.checkpointDir).toAbsolutePath().toUri().toString();
        }
        o.checkpointInterval = checkpointInterval;
        o.bufferTimeout = bufferTimeout;
        o.unalignedCheckpoints = unalignedCheckpoints;
        if (incrementalCheckpoints && !"rocksdb".equals(stateBackend)) {
            throw new UsageException("--incremental-checkpoints needs --state-backend rocksdb");
        }
        o.incrementalCheckpoints = incrementalCheckpoints;
        o.fromSavepoint = fromSavepoint;
        if (o.fromSavepoint != null && !hasScheme(o.fromSavepoint)) {
            o.fromSavepoint = Path.of(o.fromSavepoint).toAbsolutePath().normalize().toString();
        }
        o.stateTtl = stateTtl;
        o.microBatch = microBatch;
        if (microBatchWait != null) {
            if (o.microBatch == 1) {
                throw new UsageException("--micro-batch-wait needs --micro-batch N with N > 1");
            }
            o.microBatchWait = microBatchWait;
        }
        o.kafkaProperties = Main.properties("--kafka-property", kafkaProperties);
        o.groupId = groupId;
        o.transactionalIdPrefix = transactionalIdPrefix;
        o.kafkaUntilEnd = untilEnd;
        o.jobName = jobName != null ? jobName : "lseq " + o.model.getFileName();
        o.delivery = switch (delivery) {
            case "exactly-once" -> DeliveryGuarantee.EXACTLY_ONCE;
            case "at-least-once" -> DeliveryGuarantee.AT_LEAST_ONCE;
            default -> throw new UsageException("--delivery must be exactly-once or at-least-once, got '" + delivery + "'");
        };
        String problem = o.deliveryProblem();
        if (problem != null) {
            throw new UsageException(problem);
        }
        if (!o.source.kafka() && !Files.isRegularFile(Path.of(o.source.target()))) {
            throw new UsageException("--source " + o.source + ": no such file");
        }
        return o;
    }

    /** Parses an endpoint; a file path becomes absolute, since TaskManagers open it, not this process. */
    private static Endpoint endpoint(String option, String text) {
        try {
            Endpoint e = Endpoint.parse(option, text);
            return e.kafka() ? e : new Endpoint(false, null, Path.of(e.target()).toAbsolutePath().normalize().toString());
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
    }

    /** Whether a path is a URI with a scheme ({@code file:/x}, {@code s3://b/x}), not a local path. */
    static boolean hasScheme(String path) {
        return path.matches("[A-Za-z][A-Za-z0-9+.-]*:.*");
    }

    /**
     * The job jar to ship to a cluster: {@code lseq-job.jar} beside this class's jar (built by
     * {@code mvn package}), or the {@code lseq.job.jar} system property.
     */
    static Path jobJar() throws URISyntaxException {
        String prop = System.getProperty("lseq.job.jar");
        Path jar = prop != null ? Path.of(prop)
                : Path.of(RunCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI())
                        .resolveSibling("lseq-job.jar");
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException("job jar " + jar + " not found; build it with mvn package -DskipTests");
        }
        return jar;
    }
}
