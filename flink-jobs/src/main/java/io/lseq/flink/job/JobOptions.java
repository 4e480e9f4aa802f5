package io.lseq.flink.job;

import io.lseq.connectors.Endpoint;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Properties;
import org.apache.flink.connector.base.DeliveryGuarantee;

/**
 * Everything the streaming scoring job is configured with (the options of {@code lseq run}).
 * Mutable, used only on the client while the job is built.
 */
public final class JobOptions {
    /** Model directory. */
    public Path model;
    /** Where events come from. */
    public Endpoint source;
    /** Where scores go. */
    public Endpoint sink;
    /** Where rejected records go; null: the TaskManagers' standard error. */
    public Endpoint deadLetter;
    /** Operator parallelism. */
    public int parallelism = 1;
    /** Max parallelism: fixed, since a savepoint restores only at the same value. */
    public int maxParallelism = 128;
    /** {@code hashmap} or {@code rocksdb}. */
    public String stateBackend = "hashmap";
    /** Checkpoint directory URI, or null for Flink's default (job manager memory). */
    public String checkpointDir;
    /**
     * The Kafka sinks' delivery: {@code EXACTLY_ONCE} (transactions committed at checkpoints) or
     * {@code AT_LEAST_ONCE} (plain writes visible at once; after a failure the scores since the last
     * checkpoint come again, the same bytes for the same (key, seq)).
     */
    public DeliveryGuarantee delivery = DeliveryGuarantee.EXACTLY_ONCE;
    /** Checkpoint interval; exactly-once sinks commit at checkpoints. */
    public Duration checkpointInterval = Duration.ofSeconds(10);
    /**
     * The longest a network buffer waits to fill before it is sent on, or null for Flink's
     * default (100 ms); 0 sends every record at once. With at-least-once delivery it is most of a
     * score's latency.
     */
    public Duration bufferTimeout;
    /** Unaligned checkpoints: barriers overtake buffered records, so backpressure does not delay them. */
    public boolean unalignedCheckpoints;
    /** Incremental checkpoints (RocksDB): only the files changed since the last one are written. */
    public boolean incrementalCheckpoints;
    /** Savepoint or retained checkpoint to start from, or null. */
    public String fromSavepoint;
    /** Idle time after which a key's state is dropped; null for never. */
    public Duration stateTtl;
    /** Extra Kafka client properties, for every Kafka source and sink. */
    public Properties kafkaProperties = new Properties();
    /** Kafka consumer group of the source. */
    public String groupId;
    /** Prefix of the exactly-once sinks' transactional ids (unique per job on a cluster). */
    public String transactionalIdPrefix;
    /** Read a Kafka source only to the end it has when the job starts. */
    public boolean kafkaUntilEnd;
    /** Events of different keys the scoring operator steps together, at most (1: off). */
    public int microBatch = 1;
    /** The longest an event waits for its micro-batch to fill. */
    public Duration microBatchWait = Duration.ofMillis(5);
    /** The job's name in Flink. */
    public String jobName;

    /**
     * Why these options cannot run together, in words for the command line, or null. At-least-once
     * is refused for a file score sink: part files are committed at checkpoints whatever the mode, so
     * it would not make scores visible any sooner (a file dead-letter sink is allowed, and stays
     * committed at checkpoints).
     */
    public String deliveryProblem() {
        if (delivery != DeliveryGuarantee.EXACTLY_ONCE && delivery != DeliveryGuarantee.AT_LEAST_ONCE) {
            return "--delivery must be exactly-once or at-least-once, got " + delivery;
        }
        if (delivery == DeliveryGuarantee.AT_LEAST_ONCE && sink != null && !sink.kafka()) {
            return "--delivery at-least-once is for a Kafka --sink: a file sink commits its part files at checkpoints "
                    + "either way, so scores would not appear sooner (use the default exactly-once, and a shorter "
                    + "--checkpoint-interval for fresher files)";
        }
        if (delivery == DeliveryGuarantee.AT_LEAST_ONCE && transactionalIdPrefix != null) {
            return "--transactional-id-prefix is for --delivery exactly-once; at-least-once writes without transactions";
        }
        return null;
    }
}
