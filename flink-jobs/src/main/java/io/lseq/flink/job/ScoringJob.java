package io.lseq.flink.job;

import io.lseq.connectors.event.DeadLetter;
import io.lseq.connectors.event.Event;
import io.lseq.connectors.event.Score;
import io.lseq.connectors.json.Json;
import io.lseq.core.model.Model;
import io.lseq.connectors.Endpoint;
import io.lseq.connectors.file.FileIO;
import io.lseq.connectors.kafka.KafkaIO;
import io.lseq.connectors.RawRecord;
import io.lseq.flink.operator.ParseEvents;
import io.lseq.flink.operator.ScoringOperator;
import java.nio.charset.StandardCharsets;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.configuration.ExecutionOptions;
import org.apache.flink.configuration.PipelineOptions;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.configuration.StateRecoveryOptions;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.DataStreamSource;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.PrintSink;

/**
 * The streaming scoring job: source, parse (rejects to the dead-letter output), key by the
 * event's key, score with {@link ScoringOperator}, sink. Built from {@link JobOptions}; the same
 * pieces serve tests that splice in a failure or read the output.
 */
public final class ScoringJob {
    /** uids, so that savepoints map state and offsets back to the right operators. */
    public static final String SOURCE_UID = "lseq-source";
    static final String PARSE_UID = "lseq-parse";
    static final String SINK_UID = "lseq-score-sink";
    static final String DEAD_LETTER_UID = "lseq-dead-letter-sink";

    private ScoringJob() {}

    /** The Flink configuration the options imply (checkpoints, state backend, restore path). */
    public static Configuration configuration(JobOptions o) {
        Configuration c = new Configuration();
        c.set(CoreOptions.DEFAULT_PARALLELISM, o.parallelism);
        c.set(PipelineOptions.MAX_PARALLELISM, o.maxParallelism);
        c.set(StateBackendOptions.STATE_BACKEND, o.stateBackend);
        c.set(CheckpointingOptions.CHECKPOINTING_INTERVAL, o.checkpointInterval);
        if (o.bufferTimeout != null) {
            c.set(ExecutionOptions.BUFFER_TIMEOUT, o.bufferTimeout);
        }
        c.set(CheckpointingOptions.ENABLE_UNALIGNED, o.unalignedCheckpoints);
        c.set(CheckpointingOptions.INCREMENTAL_CHECKPOINTS, o.incrementalCheckpoints);
        if (o.checkpointDir != null) {
            c.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, o.checkpointDir);
        }
        if (o.fromSavepoint != null) {
            c.set(StateRecoveryOptions.SAVEPOINT_PATH, o.fromSavepoint);
        }
        return c;
    }

    /** Adds the whole job to {@code env}, reading the model from {@code o.model}. */
    public static void build(StreamExecutionEnvironment env, JobOptions o) {
        build(env, o, ModelSource.read(o.model));
    }

    /** Adds the whole job to {@code env}, with a model already read on the client. */
    public static void build(StreamExecutionEnvironment env, JobOptions o, ModelSource model) {
        String problem = o.deliveryProblem();
        if (problem != null) {
            throw new IllegalArgumentException(problem);
        }
        DataStream<Event> events = events(env, o, model.clientModel());
        sinkScores(score(events, o, model), o);
    }

    /** Source and parsing; rejected records go to the dead-letter output. */
    public static DataStream<Event> events(StreamExecutionEnvironment env, JobOptions o, Model model) {
        DataStreamSource<RawRecord> raw;
        if (o.source.kafka()) {
            String group = o.groupId != null ? o.groupId : KafkaIO.defaultGroupId(model.config().name());
            raw = env.fromSource(KafkaIO.source(o.source, group, o.kafkaProperties, o.kafkaUntilEnd),
                    WatermarkStrategy.noWatermarks(), "events " + o.source);
        } else {
            raw = env.fromSource(FileIO.source(o.source), WatermarkStrategy.noWatermarks(), "events " + o.source);
        }
        return parse(raw.uid(SOURCE_UID), o, model);
    }

    /** Parsing of raw records from any source; rejected records go to the dead-letter output. */
    public static DataStream<Event> parse(DataStream<RawRecord> raw, JobOptions o, Model model) {
        SingleOutputStreamOperator<Event> events = raw
                .process(new ParseEvents(model.config().input())).uid(PARSE_UID).name("parse events");
        DataStream<DeadLetter> dead = events.getSideOutput(ParseEvents.DEAD_LETTERS);
        if (o.deadLetter == null) {
            dead.map(d -> new String(Json.deadLetter(d), StandardCharsets.UTF_8)).name("dead letters to JSON")
                    .sinkTo(new PrintSink<>("dead-letter", true)).uid(DEAD_LETTER_UID).name("dead letters to stderr");
        } else if (o.deadLetter.kafka()) {
            dead.sinkTo(KafkaIO.deadLetterSink(o.deadLetter, o.delivery, prefix(o) + "-dead", o.kafkaProperties))
                    .uid(DEAD_LETTER_UID).name("dead letters " + o.deadLetter);
        } else {
            dead.sinkTo(FileIO.deadLetterSink(o.deadLetter)).uid(DEAD_LETTER_UID).name("dead letters " + o.deadLetter);
        }
        return events;
    }

    /** Keys events by their key and scores them. */
    public static SingleOutputStreamOperator<Score> score(DataStream<Event> events, JobOptions o, ModelSource model) {
        long ttl = o.stateTtl == null ? 0 : o.stateTtl.toMillis();
        return events.keyBy(new EventKey())
                .transform("score " + model.where(), TypeInformation.of(Score.class), new ScoringOperator(model, ttl, o.microBatch,
                        o.microBatchWait.toMillis()))
                .uid(ScoringOperator.UID);
    }

    /** Sends scores to the sink: Kafka with {@code o.delivery}, files exactly once. */
    public static void sinkScores(DataStream<Score> scores, JobOptions o) {
        Endpoint s = o.sink;
        if (s.kafka()) {
            scores.sinkTo(KafkaIO.scoreSink(s, o.delivery, prefix(o) + "-scores", o.kafkaProperties)).uid(SINK_UID).name("scores " + s);
        } else {
            scores.sinkTo(FileIO.scoreSink(s)).uid(SINK_UID).name("scores " + s);
        }
    }

    private static String prefix(JobOptions o) {
        return o.transactionalIdPrefix != null ? o.transactionalIdPrefix : "lseq";
    }

    /** The key of an event. */
    public static final class EventKey implements KeySelector<Event, String> {
        private static final long serialVersionUID = 1L;

        @Override
        public String getKey(Event e) {
            return e.key();
        }
    }
}
