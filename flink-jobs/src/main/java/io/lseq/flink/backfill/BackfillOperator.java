package io.lseq.flink.backfill;

import io.lseq.connectors.event.Event;
import io.lseq.core.model.BatchBackends;
import io.lseq.core.model.KeyState;
import io.lseq.core.model.Model;
import io.lseq.flink.job.ModelSource;
import java.util.Map;
import org.apache.flink.api.common.accumulators.LongCounter;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.BoundedOneInput;
import org.apache.flink.streaming.api.operators.InternalTimer;
import org.apache.flink.streaming.api.operators.InternalTimerService;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.api.operators.Triggerable;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;

/**
 * The keyed step of the cluster backfill, for BATCH execution: receives each key's events
 * together and in history order (keyed input sorted by key and position, {@link SourcePosition}),
 * runs them through the batch path ({@link Backfill}: windows of events over many keys, a key
 * longer than a window continued from its state), and emits every key's final state once its
 * input is complete.
 *
 * <p>Memory is bounded by the keys in flight: an event-time timer at {@code Long.MAX_VALUE} fires
 * when a key's input is done (BATCH execution fires a key's timers when the next key starts);
 * once the keys finished since the last hand-over hold a window of events, their states are
 * completed, emitted and forgotten. So a subtask holds at most about two windows of events and
 * the states of the keys among them, whatever the history's length. The rest goes out at the end
 * of the input.
 *
 * <p>Accumulators: {@value #EVENTS} and {@value #KEYS}, the events and keys it computed.
 */
final class BackfillOperator extends AbstractStreamOperator<Tuple2<String, KeyState>>
        implements OneInputStreamOperator<Event, Tuple2<String, KeyState>>, Triggerable<String, VoidNamespace>,
        BoundedOneInput {
    private static final long serialVersionUID = 1L;

    /** Accumulator: events computed. */
    static final String EVENTS = "lseq-backfill-events";
    /** Accumulator: keys emitted. */
    static final String KEYS = "lseq-backfill-keys";

    private final ModelSource modelSource;
    private final String device;
    private final int threads;
    private final int window;

    private transient Backfill backfill;
    private transient InternalTimerService<VoidNamespace> keyEnds;
    private transient String lastKey;
    private transient long sinceHandOver;
    private transient LongCounter events;
    private transient LongCounter keys;
    private transient StreamRecord<Tuple2<String, KeyState>> out;

    /**
     * @param device {@code auto}, {@code cpu} or a device's name, chosen on each TaskManager
     * @param threads CPU threads of each subtask's batch path
     * @param window events per batch
     */
    BackfillOperator(ModelSource model, String device, int threads, int window) {
        this.modelSource = model;
        this.device = device;
        this.threads = threads;
        this.window = window;
    }

    @Override
    public void open() throws Exception {
        super.open();
        Model model = modelSource.load();
        BatchBackends.Choice choice = BatchBackends.open(device, model, threads);
        LOG.info("lseq backfill subtask {}: {}", getRuntimeContext().getTaskInfo().getIndexOfThisSubtask(),
                choice.note());
        backfill = new Backfill(model, choice.backend(), window);
        keyEnds = getInternalTimerService("lseq-backfill-key-end", VoidNamespaceSerializer.INSTANCE, this);
        events = new LongCounter();
        keys = new LongCounter();
        getRuntimeContext().addAccumulator(EVENTS, events);
        getRuntimeContext().addAccumulator(KEYS, keys);
        out = new StreamRecord<>(null);
    }

    @Override
    public void processElement(StreamRecord<Event> record) throws Exception {
        Event e = record.getValue();
        if (!e.key().equals(lastKey)) { // a key's events come together: one timer per key
            lastKey = e.key();
            keyEnds.registerEventTimeTimer(VoidNamespace.INSTANCE, Long.MAX_VALUE);
        }
        backfill.add(e);
        sinceHandOver++;
    }

    /** A key's input is complete. */
    @Override
    public void onEventTime(InternalTimer<String, VoidNamespace> timer) throws Exception {
        if (sinceHandOver >= window) {
            handOver();
        }
    }

    @Override
    public void onProcessingTime(InternalTimer<String, VoidNamespace> timer) {
        // none registered
    }

    @Override
    public void endInput() throws Exception {
        handOver();
    }

    /** Completes the keys held, emits their states and forgets them. */
    private void handOver() throws Exception {
        backfill.finish();
        long n = 0;
        for (Map.Entry<String, KeyState> e : backfill.states().entrySet()) {
            output.collect(out.replace(Tuple2.of(e.getKey(), e.getValue())));
            n++;
        }
        keys.add(n);
        events.add(sinceHandOver);
        backfill.forgetKeys();
        sinceHandOver = 0;
    }

    @Override
    public void close() throws Exception {
        try {
            if (backfill != null) {
                backfill.close();
            }
        } finally {
            super.close();
        }
    }
}
