package io.lseq.flink.savepoint;

import io.lseq.core.model.KeyState;
import io.lseq.core.model.Model;
import io.lseq.flink.operator.ScoringOperator;
import io.lseq.flink.state.KeyStateSerializer;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.RunnableFuture;
import org.apache.flink.api.common.ExecutionConfig;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.typeutils.base.StringSerializer;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.core.fs.FSDataOutputStream;
import org.apache.flink.core.fs.FileSystem;
import org.apache.flink.core.fs.Path;
import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.checkpoint.Checkpoints;
import org.apache.flink.runtime.checkpoint.OperatorState;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.checkpoint.SavepointType;
import org.apache.flink.runtime.checkpoint.metadata.CheckpointMetadata;
import org.apache.flink.runtime.state.AbstractStateBackend;
import org.apache.flink.runtime.state.CheckpointStorageLocationReference;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.LocalRecoveryConfig;
import org.apache.flink.runtime.state.SavepointSnapshotStrategy;
import org.apache.flink.runtime.state.SnapshotExecutionType;
import org.apache.flink.runtime.state.SnapshotResult;
import org.apache.flink.runtime.state.SnapshotStrategyRunner;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.runtime.state.filesystem.AbstractFsCheckpointStorageAccess;
import org.apache.flink.runtime.state.filesystem.FsCheckpointStorageLocation;
import org.apache.flink.runtime.state.heap.HeapKeyedStateBackend;
import org.apache.flink.runtime.state.heap.HeapKeyedStateBackendBuilder;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueSetFactory;
import org.apache.flink.runtime.state.metrics.LatencyTrackingStateConfig;
import org.apache.flink.runtime.state.metrics.SizeTrackingStateConfig;
import org.apache.flink.runtime.state.ttl.TtlTimeProvider;
import org.apache.flink.state.api.OperatorIdentifier;

/**
 * Writes key states as a savepoint of the streaming job's scoring operator: same uid
 * ({@value ScoringOperator#UID}), state name, {@link KeyStateSerializer} and key type, so
 * {@code lseq run --from-savepoint} continues every key where the backfill left it.
 *
 * <p>It is the savepoint a one-subtask run of that operator would take, written in this JVM by
 * Flink's own parts: a heap keyed state backend holding every key (key groups 0 to max
 * parallelism - 1), its canonical savepoint snapshot (the format every state backend restores,
 * at any parallelism) into one state file, then the {@code _metadata} file. The State Processor
 * API writes the same files but through a bootstrap job on a MiniCluster, whose start and
 * Java-serialized input cost seconds for any history.
 *
 * <p>{@code _metadata} is written last, to a temporary name renamed when complete: Flink restores
 * only a directory with {@code _metadata}, so a write cut short by a crash is never taken for a
 * savepoint.
 */
public final class SavepointBuilder {
    private SavepointBuilder() {}

    /** Checkpoint id recorded in the savepoint (as the State Processor API does). */
    private static final long SAVEPOINT_ID = 0L;

    /**
     * Writes {@code states} to the savepoint directory {@code path} (a URI or local path).
     *
     * @param maxParallelism the streaming job's max parallelism (it must restore with the same)
     */
    public static void write(Model model, Map<String, KeyState> states, String path, int maxParallelism) throws Exception {
        Path dir = new Path(path);
        FileSystem fs = dir.getFileSystem();
        KeyGroupRange groups = KeyGroupRange.of(0, maxParallelism - 1);
        ExecutionConfig config = new ExecutionConfig();
        try (CloseableRegistry registry = new CloseableRegistry()) {
            HeapKeyedStateBackend<String> backend = new HeapKeyedStateBackendBuilder<>(null, StringSerializer.INSTANCE,
                    SavepointBuilder.class.getClassLoader(), maxParallelism, groups, config, TtlTimeProvider.DEFAULT,
                    LatencyTrackingStateConfig.disabled(), SizeTrackingStateConfig.disabled(), List.of(),
                    AbstractStateBackend.getCompressionDecorator(config), LocalRecoveryConfig.BACKUP_AND_RECOVERY_DISABLED,
                    new HeapPriorityQueueSetFactory(groups, maxParallelism, 128), true, registry).build();
            try {
                ValueState<KeyState> state = backend.getPartitionedState(VoidNamespace.INSTANCE,
                        VoidNamespaceSerializer.INSTANCE, ScoringOperator.stateDescriptor(model));
                for (Map.Entry<String, KeyState> e : states.entrySet()) {
                    backend.setCurrentKey(e.getKey());
                    state.update(e.getValue());
                }
                fs.mkdirs(dir);
                KeyedStateHandle handle = snapshot(backend, registry, fs, dir);
                writeMetadata(fs, dir, handle, maxParallelism);
            } finally {
                backend.dispose();
            }
        }
    }

    /**
     * Writes and deletes a savepoint of no keys in a temporary directory: the first write in a
     * JVM loads and initializes some 500 Flink classes (about a second), which a caller can
     * spend on a spare thread while it still computes the states.
     */
    public static void warmUp(Model model) throws Exception {
        java.nio.file.Path tmp = java.nio.file.Files.createTempDirectory("lseq-savepoint-warm-up");
        try {
            write(model, Map.of(), tmp.resolve("savepoint").toUri().toString(), 128);
        } finally {
            try (java.util.stream.Stream<java.nio.file.Path> files = java.nio.file.Files.walk(tmp)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }

    /** The backend's canonical savepoint snapshot, its state file written into {@code dir}. */
    private static KeyedStateHandle snapshot(HeapKeyedStateBackend<String> backend, CloseableRegistry registry,
            FileSystem fs, Path dir) throws Exception {
        CheckpointStorageLocationReference ref = AbstractFsCheckpointStorageAccess.encodePathAsReference(dir);
        CheckpointOptions options = CheckpointOptions.forConfig(SavepointType.savepoint(SavepointFormatType.CANONICAL),
                ref, true, false, CheckpointOptions.NO_ALIGNED_CHECKPOINT_TIME_OUT);
        // Threshold 0: the state always goes to a file beside _metadata, never inline in it.
        FsCheckpointStorageLocation storage = new FsCheckpointStorageLocation(fs, dir, dir, dir, ref, 0, 1 << 20);
        SnapshotStrategyRunner<KeyedStateHandle, ?> runner = new SnapshotStrategyRunner<>("lseq backfill savepoint",
                new SavepointSnapshotStrategy<>(backend.savepoint().getSnapshotResources()), registry,
                SnapshotExecutionType.SYNCHRONOUS);
        RunnableFuture<SnapshotResult<KeyedStateHandle>> done = runner.snapshot(SAVEPOINT_ID,
                System.currentTimeMillis(), storage, options);
        done.run();
        KeyedStateHandle handle = done.get().getJobManagerOwnedSnapshot();
        if (handle == null) {
            throw new IOException("the state backend wrote no state for the savepoint " + dir);
        }
        return handle;
    }

    /** {@code _metadata}: the scoring operator's one subtask, holding every key group. */
    private static void writeMetadata(FileSystem fs, Path dir, KeyedStateHandle handle, int maxParallelism)
            throws IOException {
        OperatorState operator = new OperatorState("lseq backfill", ScoringOperator.UID,
                OperatorIdentifier.forUid(ScoringOperator.UID).getOperatorId(), 1, maxParallelism);
        operator.putState(0, OperatorSubtaskState.builder().setManagedKeyedState(handle).build());
        CheckpointMetadata metadata = new CheckpointMetadata(SAVEPOINT_ID, List.of(operator), List.of());
        Path done = new Path(dir, AbstractFsCheckpointStorageAccess.METADATA_FILE_NAME);
        Path partial = new Path(dir, AbstractFsCheckpointStorageAccess.METADATA_FILE_NAME + ".inprogress");
        try (FSDataOutputStream out = fs.create(partial, FileSystem.WriteMode.NO_OVERWRITE)) {
            Checkpoints.storeCheckpointMetadata(metadata, out);
        }
        if (!fs.rename(partial, done)) {
            throw new IOException("could not rename " + partial + " to " + done);
        }
    }
}
