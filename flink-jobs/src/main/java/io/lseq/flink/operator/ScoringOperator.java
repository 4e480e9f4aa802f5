package io.lseq.flink.operator;

import io.lseq.connectors.event.Event;
import io.lseq.connectors.event.Score;
import io.lseq.core.model.KeyState;
import io.lseq.core.model.Model;
import io.lseq.core.model.Scorer;
import io.lseq.flink.job.ModelSource;
import io.lseq.flink.state.KeyStateSerializer;
import java.util.concurrent.ScheduledFuture;
import java.util.stream.Stream;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeutils.base.LongSerializer;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.runtime.metrics.DescriptiveStatisticsHistogram;
import org.apache.flink.runtime.state.StateInitializationContext;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.BoundedOneInput;
import org.apache.flink.streaming.api.operators.InternalTimer;
import org.apache.flink.streaming.api.operators.InternalTimerService;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.api.operators.Triggerable;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;

/**
 * The keyed scoring operator: keeps each key's recurrent state in Flink keyed state
 * ({@value #STATE_NAME}, through {@link KeyStateSerializer}) and emits one score per event, in
 * the order the key's events arrive.
 *
 * <p>With a state TTL ({@link StateTtl}), a key idle for longer than the TTL (processing time)
 * loses its state and starts afresh; the {@code keysWithState} gauge stays exact.
 *
 * <p>Every event goes through a {@link MicroBatch}. Its capacity is 1 unless micro-batching is
 * on, and then each event is scored as it arrives. With micro-batching, events of up to
 * {@code microBatch} different keys are held and stepped together, at the latest
 * {@code microBatchWait} after the first of them arrived. An event whose key is already held
 * flushes the batch first, so each key's events keep their order. The batch is flushed before
 * every checkpoint barrier ({@link #prepareSnapshotPreBarrier}), watermark and the end of a
 * bounded input, so checkpoints never hold buffered events and exactly-once is unchanged.
 *
 * <p>Metrics (group {@code lseq}): {@code eventsIn}, {@code scoresOut}, {@code keysWithState},
 * {@code stepTimeNanos} (histogram of the model step per event), {@code latencyNanos}
 * (histogram of the time from an event's arrival at this operator to its score, micro-batch
 * wait included), {@code microBatchSize} (histogram, with micro-batching).
 */
public final class ScoringOperator extends AbstractStreamOperator<Score>
        implements OneInputStreamOperator<Event, Score>, Triggerable<String, VoidNamespace>, BoundedOneInput {
    private static final long serialVersionUID = 1L;

    /** The operator's uid: a savepoint's states are found by it. */
    public static final String UID = "lseq-scoring";
    /** Name of the keyed state holding each key's {@link KeyState}. */
    public static final String STATE_NAME = "key-state";

    private final ModelSource modelSource;
    private final long ttlMillis;
    private final int microBatch;
    private final long microBatchWaitMillis;

    private transient Model model;
    private transient Scorer scorer;
    private transient String modelName;
    private transient boolean probs;
    private transient ValueState<KeyState> states;
    private transient ValueState<Long> lastSeen;
    private transient StateTtl ttl;
    private transient InternalTimerService<VoidNamespace> timers;
    private transient Counter eventsIn;
    private transient Counter scoresOut;
    private transient Histogram stepTime;
    private transient Histogram latency;
    private transient Histogram batchSize;
    private transient long keys;
    private transient MicroBatch batch;
    private transient StreamRecord<Score> out;
    private transient ScheduledFuture<?> flushTimer;

    /**
     * @param ttlMillis idle time after which a key's state is dropped, or 0 to keep it forever
     */
    public ScoringOperator(ModelSource model, long ttlMillis) {
        this(model, ttlMillis, 1, 0);
    }

    /**
     * @param ttlMillis idle time after which a key's state is dropped, or 0 to keep it forever
     * @param microBatch events of different keys stepped together, at most (1: each on arrival)
     * @param microBatchWaitMillis the longest an event waits for its micro-batch to fill
     */
    public ScoringOperator(ModelSource model, long ttlMillis, int microBatch, long microBatchWaitMillis) {
        if (microBatch < 1 || microBatchWaitMillis < 0) {
            throw new IllegalArgumentException("micro-batch " + microBatch + " / wait " + microBatchWaitMillis);
        }
        this.modelSource = model;
        this.ttlMillis = ttlMillis;
        this.microBatch = microBatch;
        this.microBatchWaitMillis = microBatchWaitMillis;
    }

    /** The descriptor of the key states, for jobs and tools that read or write them. */
    public static ValueStateDescriptor<KeyState> stateDescriptor(Model model) {
        return new ValueStateDescriptor<>(STATE_NAME, KeyStateSerializer.forModel(model));
    }

    @Override
    public void initializeState(StateInitializationContext context) throws Exception {
        super.initializeState(context);
        model = modelSource.load();
        states = getPartitionedState(stateDescriptor(model));
        if (ttlMillis > 0) {
            lastSeen = getPartitionedState(new ValueStateDescriptor<>(StateTtl.LAST_SEEN, LongSerializer.INSTANCE));
        }
        if (context.isRestored()) {
            // Restored keys count too; counting them once here keeps the gauge exact afterwards.
            try (Stream<Object> restored = getKeyedStateBackend().getKeys(STATE_NAME, VoidNamespace.INSTANCE)) {
                keys = restored.count();
            }
        }
    }

    @Override
    public void open() throws Exception {
        super.open();
        scorer = model.newScorer();
        modelName = model.config().name();
        probs = model.emitsProbabilities();
        timers = getInternalTimerService("lseq-ttl", VoidNamespaceSerializer.INSTANCE, this);
        if (ttlMillis > 0) {
            ttl = new StateTtl(ttlMillis, lastSeen, timers);
        }
        MetricGroup g = getMetricGroup().addGroup("lseq");
        eventsIn = g.counter("eventsIn");
        scoresOut = g.counter("scoresOut");
        g.gauge("keysWithState", () -> keys);
        stepTime = g.histogram("stepTimeNanos", new DescriptiveStatisticsHistogram(4096));
        latency = g.histogram("latencyNanos", new DescriptiveStatisticsHistogram(4096));
        if (microBatch > 1) {
            batchSize = g.histogram("microBatchSize", new DescriptiveStatisticsHistogram(1024));
        }
        batch = new MicroBatch(microBatch, model);
        out = new StreamRecord<>(null);
    }

    @Override
    public void processElement(StreamRecord<Event> record) throws Exception {
        eventsIn.inc();
        Event e = record.getValue();
        if (batch.holds(e.key())) {
            flush(); // the key's earlier event first
        }
        batch.add(e, record.hasTimestamp(), record.getTimestamp(), System.nanoTime());
        if (batch.isFull() || microBatchWaitMillis == 0) {
            flush();
        } else if (batch.size() == 1) {
            long due = getProcessingTimeService().getCurrentProcessingTime() + microBatchWaitMillis;
            flushTimer = getProcessingTimeService().registerTimer(due, t -> flush());
        }
    }

    /** Scores the held events together and emits their scores in arrival order. */
    private void flush() throws Exception {
        if (flushTimer != null) {
            flushTimer.cancel(false);
            flushTimer = null;
        }
        int n = batch.size();
        if (n == 0) {
            return;
        }
        Object keyBefore = getCurrentKey();
        for (int i = 0; i < n; i++) {
            MicroBatch.Held h = batch.get(i);
            select(h.event.key());
            KeyState st = states.value();
            if (st == null) {
                st = model.newState();
                keys++;
            }
            h.state = st;
            h.seq = model.nextSeq(st);
        }
        long t0 = System.nanoTime();
        batch.step(scorer);
        long perEvent = (System.nanoTime() - t0) / n; // the model step alone
        if (batchSize != null) {
            batchSize.update(n);
        }
        for (int i = 0; i < n; i++) {
            MicroBatch.Held h = batch.get(i);
            Event e = h.event;
            select(e.key());
            states.update(h.state);
            if (ttl != null) {
                ttl.touch(getProcessingTimeService().getCurrentProcessingTime());
            }
            stepTime.update(perEvent);
            Score score = new Score(e.key(), h.seq, e.ts(), e.id(), modelName, h.out.clone(), probs);
            if (h.hasTimestamp) {
                output.collect(out.replace(score, h.timestamp));
            } else {
                out.eraseTimestamp();
                output.collect(out.replace(score));
            }
            scoresOut.inc();
            latency.update(System.nanoTime() - h.arrivedNanos);
        }
        batch.clear();
        if (keyBefore != null) {
            select(keyBefore);
        }
    }

    /** Makes {@code key} the current key, unless it is already (the event-by-event path's case). */
    private void select(Object key) {
        if (!key.equals(getCurrentKey())) {
            setCurrentKey(key);
        }
    }

    @Override
    public void prepareSnapshotPreBarrier(long checkpointId) throws Exception {
        super.prepareSnapshotPreBarrier(checkpointId);
        flush(); // a checkpoint never holds buffered events
    }

    /** Held events go out before a watermark that would make their scores late. */
    @Override
    public void processWatermark(Watermark mark) throws Exception {
        flush();
        super.processWatermark(mark);
    }

    @Override
    public void endInput() throws Exception {
        flush();
    }

    @Override
    public void finish() throws Exception {
        flush();
        super.finish();
    }

    @Override
    public void onProcessingTime(InternalTimer<String, VoidNamespace> timer) throws Exception {
        flush(); // a held event of this key counts as seen before its state may expire
        if (ttl != null && ttl.expire(timer.getTimestamp())) {
            states.clear();
            keys--;
        }
    }

    @Override
    public void onEventTime(InternalTimer<String, VoidNamespace> timer) {}
}
