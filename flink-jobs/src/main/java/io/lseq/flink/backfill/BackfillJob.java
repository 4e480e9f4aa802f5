package io.lseq.flink.backfill;

import io.lseq.connectors.Endpoint;
import io.lseq.connectors.RawRecord;
import io.lseq.connectors.event.Event;
import io.lseq.connectors.file.FileIO;
import io.lseq.connectors.kafka.KafkaHistory;
import io.lseq.connectors.kafka.KafkaIO;
import io.lseq.core.model.KeyState;
import io.lseq.core.model.Model;
import io.lseq.flink.job.JobOptions;
import io.lseq.flink.job.ModelSource;
import io.lseq.flink.job.ScoringJob;
import io.lseq.flink.operator.ScoringOperator;
import io.lseq.flink.savepoint.SourceOffsets;
import java.util.Map;
import java.util.Properties;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.RuntimeExecutionMode;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.FilterFunction;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.api.java.typeutils.TupleTypeInfo;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.configuration.ExecutionOptions;
import org.apache.flink.configuration.PipelineOptions;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.runtime.state.hashmap.HashMapStateBackend;
import org.apache.flink.state.api.OperatorIdentifier;
import org.apache.flink.state.api.OperatorTransformation;
import org.apache.flink.state.api.SavepointWriter;
import org.apache.flink.state.api.StateBootstrapTransformation;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.DataStreamSource;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.common.TopicPartition;

/**
 * The backfill as a Flink BATCH job, for a cluster: a bounded source (a JSON Lines file, or a
 * Kafka topic from its beginning to offsets fixed before the job starts), parsing with dead
 * letters ({@link ScoringJob#parse}), each record's position as its timestamp
 * ({@link SourcePosition}), key by key, the batch path over groups of keys
 * ({@link BackfillOperator}), and the State Processor API writing every key's state as a
 * savepoint of the streaming job's scoring operator ({@link KeyStateWriter}) to a path the
 * cluster can write.
 *
 * <p>The states are those {@code lseq backfill} computes in one process for the same history
 * (bit for bit when each key's history fits one window in both).
 */
public final class BackfillJob {
    private BackfillJob() {}

    /** What to backfill, and how. */
    public static final class Options {
        /** The history: a JSON Lines file (read by the TaskManagers) or a Kafka topic. */
        public Endpoint input;
        /** The savepoint directory, a URI the cluster can write (for example {@code file:///...}). */
        public String savepoint;
        /** {@code auto}, {@code cpu} or a device's name, decided on each TaskManager. */
        public String device = "auto";
        /** CPU threads of each subtask's batch path. */
        public int threads = 1;
        /** Events per batch, and per hand-over of finished keys. */
        public int window = 1 << 18;
        /** Files: only events with ts at most this (events without ts count); Kafka: records stamped at most this. */
        public long until = Long.MAX_VALUE;
        /**
         * Kafka: a savepoint (or retained checkpoint) of the streaming job; the history stops at
         * the source positions it recorded ({@link SourceOffsets}), instead of the topic's end. Not
         * with {@link #until}.
         */
        public String untilSavepoint;
        /**
         * With {@link #untilSavepoint}: the consumer group of the job that wrote it, for a partition
         * that job had not read yet; null for {@link #groupId}'s (the same job).
         */
        public String savepointJobGroup;
        /** Kafka: the streaming job's consumer group, which gets the stop offsets; null for the model's default. */
        public String groupId;
        /** Kafka client properties. */
        public Properties kafkaProperties = new Properties();
        /** Rejected records; null for the TaskManagers' standard error. */
        public Endpoint deadLetter;
        /** The job's parallelism. */
        public int parallelism = 1;
        /** The streaming job's max parallelism (it restores only with the same). */
        public int maxParallelism = 128;
        /** The job's name; null for {@code lseq backfill MODEL}. */
        public String jobName;
    }

    /**
     * What a finished backfill did.
     *
     * @param events events computed
     * @param keys keys in the savepoint
     * @param netRuntimeMillis the job's run time on the cluster
     * @param committed Kafka: the offsets committed for {@code group} (where the history stops); else null
     * @param group Kafka: the consumer group; else null
     */
    public record Result(long events, long keys, long netRuntimeMillis, Map<TopicPartition, Long> committed,
                         String group) {}

    /** The Flink configuration of the job: BATCH execution, the parallelism and max parallelism. */
    public static Configuration configuration(Options o) {
        Configuration c = new Configuration();
        c.set(ExecutionOptions.RUNTIME_MODE, RuntimeExecutionMode.BATCH);
        c.set(CoreOptions.DEFAULT_PARALLELISM, o.parallelism);
        c.set(PipelineOptions.MAX_PARALLELISM, o.maxParallelism);
        return c;
    }

    /**
     * Fixes where a Kafka history stops, runs the job in {@code env} (created with
     * {@link #configuration}) to its end, and then commits the stop offsets for the streaming job's
     * group: the savepoint is complete before the job resumes from those offsets.
     */
    public static Result run(StreamExecutionEnvironment env, Options o, ModelSource model) throws Exception {
        String group = o.input.kafka()
                ? o.groupId != null ? o.groupId : KafkaIO.defaultGroupId(model.clientModel().config().name()) : null;
        Map<TopicPartition, Long> stop = stopOffsets(o, group);
        build(env, o, model, stop);
        JobExecutionResult r = env.execute(o.jobName != null ? o.jobName : "lseq backfill " + model.where());
        if (stop != null) {
            KafkaHistory.commit(o.input, o.kafkaProperties, group, stop);
        }
        return new Result(count(r, BackfillOperator.EVENTS), count(r, BackfillOperator.KEYS), r.getNetRuntime(), stop,
                group);
    }

    /** Kafka: where each partition's history stops (the end, {@code until}, or a savepoint's positions); a file: null. */
    private static Map<TopicPartition, Long> stopOffsets(Options o, String group) throws java.io.IOException {
        if (!o.input.kafka()) {
            if (o.untilSavepoint != null) {
                throw new IllegalArgumentException("a stop at a savepoint's positions needs a Kafka history, not "
                        + o.input);
            }
            return null;
        }
        if (o.untilSavepoint == null) {
            return KafkaHistory.stopOffsets(o.input, o.kafkaProperties, o.until);
        }
        if (o.until != Long.MAX_VALUE) {
            throw new IllegalArgumentException("a history stops at a time or at a savepoint's positions, not both");
        }
        return SourceOffsets.historyStop(o.untilSavepoint, o.input, o.kafkaProperties,
                o.savepointJobGroup != null ? o.savepointJobGroup : group);
    }

    private static long count(JobExecutionResult r, String accumulator) {
        Long n = r.getAccumulatorResult(accumulator);
        return n == null ? 0 : n;
    }

    /**
     * Adds the whole job to {@code env}.
     *
     * @param stop Kafka: where each partition's history stops; null for a file
     */
    public static void build(StreamExecutionEnvironment env, Options o, ModelSource model,
                             Map<TopicPartition, Long> stop) {
        Model m = model.clientModel();
        WatermarkStrategy<RawRecord> positions = WatermarkStrategy.<RawRecord>noWatermarks()
                .withTimestampAssigner(new SourcePosition(o.input.kafka()));
        DataStreamSource<RawRecord> raw = o.input.kafka()
                ? env.fromSource(KafkaIO.history(o.input, o.kafkaProperties, stop), positions, "history " + o.input)
                : env.fromSource(FileIO.source(o.input), positions, "history " + o.input);
        DataStream<Event> events = ScoringJob.parse(raw.uid(ScoringJob.SOURCE_UID), parseOptions(o), m);
        if (!o.input.kafka() && o.until != Long.MAX_VALUE) {
            events = events.filter(new Until(o.until)).name("ts <= " + o.until);
        }
        TypeInformation<Tuple2<String, KeyState>> states = new TupleTypeInfo<>(Types.STRING,
                new KeyStateTypeInfo(m.stateSize(), m.stateSignature()));
        DataStream<Tuple2<String, KeyState>> computed = events.keyBy(new ScoringJob.EventKey())
                .transform("backfill (batch path)", states, new BackfillOperator(model, o.device, o.threads, o.window))
                .uid("lseq-backfill");
        StateBootstrapTransformation<Tuple2<String, KeyState>> write = OperatorTransformation.bootstrapWith(computed)
                .keyBy(new StateKey(), Types.STRING)
                .transform(new KeyStateWriter(ScoringOperator.stateDescriptor(m)));
        SavepointWriter.newSavepoint(env, new HashMapStateBackend(), o.maxParallelism)
                .withOperator(OperatorIdentifier.forUid(ScoringOperator.UID), write)
                .write(o.savepoint);
    }

    /** The options {@link ScoringJob#parse} reads: the dead-letter output, written without transactions. */
    private static JobOptions parseOptions(Options o) {
        JobOptions p = new JobOptions();
        p.deadLetter = o.deadLetter;
        // A BATCH job takes no checkpoints, so no transactions to commit: plain writes.
        p.delivery = DeliveryGuarantee.AT_LEAST_ONCE;
        p.kafkaProperties = o.kafkaProperties;
        return p;
    }

    /** Events up to {@code --until} (events without ts count), as the single-machine backfill keeps them. */
    private static final class Until implements FilterFunction<Event> {
        private static final long serialVersionUID = 1L;
        private final long until;

        Until(long until) {
            this.until = until;
        }

        @Override
        public boolean filter(Event e) {
            return e.ts() == null || e.ts() <= until;
        }
    }

    /** The key of a computed state. */
    private static final class StateKey implements KeySelector<Tuple2<String, KeyState>, String> {
        private static final long serialVersionUID = 1L;

        @Override
        public String getKey(Tuple2<String, KeyState> s) {
            return s.f0;
        }
    }
}
