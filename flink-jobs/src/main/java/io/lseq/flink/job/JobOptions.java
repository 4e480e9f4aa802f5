package io.lseq.flink.job;

import io.lseq.connectors.Endpoint;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Properties;

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
    /** Checkpoint interval; exactly-once sinks commit at checkpoints. */
    public Duration checkpointInterval = Duration.ofSeconds(10);
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
}
