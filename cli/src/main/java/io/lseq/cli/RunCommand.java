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
import java.util.Locale;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.TimeUtils;

/**
 * {@code lseq run}: the streaming scoring job, on an embedded MiniCluster or submitted to a
 * running Flink cluster.
 */
public final class RunCommand implements Command {
    @Override
    public String name() {
        return "run";
    }

    @Override
    public String summary() {
        return "run the streaming scoring job (embedded MiniCluster, or a Flink cluster with --jobmanager)";
    }

    @Override
    public Args args() {
        return new Args("lseq run --model DIR --source SRC --sink SINK [options]",
                "Scores every event of every key as it arrives, with each key's recurrent state in Flink keyed state.\n"
                        + "SRC and SINK are file:PATH or kafka://HOST:PORT/TOPIC. A file source is read to its end, then the\n"
                        + "job finishes; a file sink is a directory of part files, committed at checkpoints. Kafka output is\n"
                        + "exactly-once (transactions; read it with isolation.level=read_committed). Rejected records go to\n"
                        + "--dead-letter (default: standard error). Without --jobmanager the job runs on an embedded MiniCluster\n"
                        + "in this process; with it, the job jar is submitted over REST and the job id printed.")
                .required("model", "DIR", "model directory (config.json + model.safetensors)")
                .required("source", "SRC", "events: file:PATH or kafka://HOST:PORT/TOPIC")
                .required("sink", "SINK", "scores: file:DIR or kafka://HOST:PORT/TOPIC")
                .optional("dead-letter", "SINK", "rejected records: file:DIR or kafka://HOST:PORT/TOPIC")
                .optional("jobmanager", "HOST:PORT", "submit to this Flink cluster's REST endpoint instead of running embedded")
                .optional("parallelism", "N", "parallelism of every operator (default 1)")
                .optional("max-parallelism", "N", "key groups; fixed for the job's life, savepoints need the same (default 128)")
                .optional("state-backend", "NAME", "hashmap or rocksdb (default hashmap)")
                .optional("checkpoint-dir", "URI", "where checkpoints go, e.g. file:///tmp/lseq-checkpoints")
                .optional("checkpoint-interval", "D", "checkpoint interval, e.g. 10s (default); outputs commit at checkpoints")
                .optional("from-savepoint", "PATH", "start from this savepoint or retained checkpoint")
                .flag("reset-state", "with --from-savepoint: drop the saved key states (keep source positions), "
                        + "e.g. for a model of another architecture; the savepoint is copied, not changed")
                .optional("state-ttl", "D", "drop the state of keys idle for longer than this (processing time), e.g. 7d")
                .optional("micro-batch", "N", "step up to N events of different keys together (faster per event; "
                        + "default 1: each on arrival); see docs/STREAMING.md")
                .optional("micro-batch-wait", "D", "with --micro-batch: the longest an event waits for its batch "
                        + "(default 5ms)")
                .repeatable("kafka-property", "KEY=VALUE", "a Kafka client property for every source and sink, e.g. security.protocol=SASL_SSL")
                .optional("group-id", "ID", "Kafka consumer group of the source (default lseq-MODELNAME)")
                .optional("transactional-id-prefix", "P", "prefix of the Kafka sinks' transactional ids (default lseq); unique per job")
                .flag("until-end", "read a Kafka source only up to its end at start, then finish")
                .optional("job-name", "NAME", "the job's name in Flink (default: lseq MODELNAME)");
    }

    @Override
    public int run(Args a) throws Exception {
        JobOptions o = options(a);
        ModelSource model = ModelSource.read(o.model); // the only read of the model on the client
        String jm = a.get("jobmanager", null);
        JobManagerAddress address = jm == null ? null : JobManagerAddress.parse(jm);
        if (a.has("reset-state")) {
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
        if (jm == null) {
            env = StreamExecutionEnvironment.createLocalEnvironment(conf);
        } else {
            env = StreamExecutionEnvironment.createRemoteEnvironment(address.host(), address.port(), conf,
                    jobJar().toString());
        }
        ScoringJob.build(env, o, model);
        if (jm != null) {
            JobClient client = env.executeAsync(o.jobName);
            System.out.println(client.getJobID());
            System.err.println("lseq run: submitted job " + client.getJobID() + " (" + o.jobName + ") to " + jm);
            return 0;
        }
        System.err.println("lseq run: running '" + o.jobName + "' on an embedded MiniCluster: " + o.source + " -> " + o.sink
                + (o.source.kafka() && !o.kafkaUntilEnd ? " (until stopped: Ctrl-C)" : ""));
        JobExecutionResult r = env.execute(o.jobName);
        System.err.printf(Locale.ROOT, "lseq run: job finished in %.1f s; scores in %s%n", r.getNetRuntime() / 1000.0, o.sink);
        return 0;
    }

    /** The job options a parsed command line gives. */
    public static JobOptions options(Args a) {
        JobOptions o = new JobOptions();
        o.model = Path.of(a.get("model"));
        o.source = endpoint("--source", a.get("source"));
        o.sink = endpoint("--sink", a.get("sink"));
        o.deadLetter = a.has("dead-letter") ? endpoint("--dead-letter", a.get("dead-letter")) : null;
        o.parallelism = a.positiveInt("parallelism", 1);
        o.maxParallelism = a.positiveInt("max-parallelism", 128);
        if (o.parallelism > o.maxParallelism) {
            throw new UsageException("--parallelism " + o.parallelism + " exceeds --max-parallelism " + o.maxParallelism);
        }
        o.stateBackend = a.get("state-backend", "hashmap");
        if (!o.stateBackend.equals("hashmap") && !o.stateBackend.equals("rocksdb")) {
            throw new UsageException("--state-backend must be hashmap or rocksdb, got '" + o.stateBackend + "'");
        }
        o.checkpointDir = a.get("checkpoint-dir");
        if (o.checkpointDir != null && !hasScheme(o.checkpointDir)) {
            o.checkpointDir = Path.of(o.checkpointDir).toAbsolutePath().toUri().toString();
        }
        o.checkpointInterval = duration("checkpoint-interval", a.get("checkpoint-interval", "10s"));
        o.fromSavepoint = a.get("from-savepoint");
        if (o.fromSavepoint != null && !hasScheme(o.fromSavepoint)) {
            o.fromSavepoint = Path.of(o.fromSavepoint).toAbsolutePath().normalize().toString();
        }
        o.stateTtl = a.has("state-ttl") ? duration("state-ttl", a.get("state-ttl")) : null;
        o.microBatch = a.positiveInt("micro-batch", 1);
        if (a.has("micro-batch-wait")) {
            if (o.microBatch == 1) {
                throw new UsageException("--micro-batch-wait needs --micro-batch N with N > 1");
            }
            o.microBatchWait = duration("micro-batch-wait", a.get("micro-batch-wait"));
        }
        o.kafkaProperties = a.properties("kafka-property");
        o.groupId = a.get("group-id");
        o.transactionalIdPrefix = a.get("transactional-id-prefix");
        o.kafkaUntilEnd = a.has("until-end");
        o.jobName = a.get("job-name", "lseq " + o.model.getFileName());
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

    private static Duration duration(String option, String text) {
        try {
            Duration d = TimeUtils.parseDuration(text);
            if (d.isZero() || d.isNegative()) {
                throw new IllegalArgumentException("must be positive");
            }
            return d;
        } catch (IllegalArgumentException e) {
            throw new UsageException("--" + option + " must be a positive duration like 10s, 5min, 7d; got '" + text + "'");
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
