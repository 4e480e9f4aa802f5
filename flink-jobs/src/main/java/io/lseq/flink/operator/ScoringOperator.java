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
 * <p>With a state TTL, a key idle for longer than the TTL (processing time) loses its state and
 * starts afresh; expiry runs on processing-time timers rounded to a tenth of the TTL, so it is
 * exact to that granularity and the {@code keysWithState} gauge stays exact.
 *
 * <p>Micro-batching (optional): events of up to {@code microBatch} different keys are held and
 * stepped together ({@link Scorer#stepKeys}: the products of all keys at once, each weight read
 * once per four keys), at the latest {@code microBatchWait} after the first of them arrived. An
 * event whose key is already held flushes the batch first, so each key's events keep their
 * order. The batch is flushed before every checkpoint barrier ({@link #prepareSnapshotPreBarrier})
 * and at the end of a bounded input, so checkpoints never hold buffered events and
 * exactly-once is unchanged.
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
    private static final String LAST_SEEN = "last-seen";

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
    private transient InternalTimerService<VoidNamespace> timers;
    private transient Counter eventsIn;
    private transient Counter scoresOut;
    private transient Histogram stepTime;
    private transient Histogram latency;
    private transient Histogram batchSize;
    private transient long keys;
    // The held micro-batch: events, their record timestamps, arrival times and key states.
    private transient Event[] held;
    private transient long[] heldTimestamps;
    private transient boolean[] heldHasTimestamp;
    private transient long[] heldSince;
    private transient KeyState[] heldStates;
    private transient int[] heldTokens;
    private transient float[][] heldFeatures;
    private transient float[][] heldOuts;
    private transient int count;
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
            lastSeen = getPartitionedState(new ValueStateDescriptor<>(LAST_SEEN, LongSerializer.INSTANCE));
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
        MetricGroup g = getMetricGroup().addGroup("lseq");
        eventsIn = g.counter("eventsIn");
        scoresOut = g.counter("scoresOut");
        g.gauge("keysWithState", () -> keys);
        stepTime = g.histogram("stepTimeNanos", new DescriptiveStatisticsHistogram(4096));
        latency = g.histogram("latencyNanos", new DescriptiveStatisticsHistogram(4096));
        if (microBatch > 1) {
            batchSize = g.histogram("microBatchSize", new DescriptiveStatisticsHistogram(1024));
            held = new Event[microBatch];
            heldTimestamps = new long[microBatch];
            heldHasTimestamp = new boolean[microBatch];
            heldSince = new long[microBatch];
            heldStates = new KeyState[microBatch];
            heldOuts = new float[microBatch][model.outputSize()];
            if (model.config().input().tokens()) {
                heldTokens = new int[microBatch];
            } else {
                heldFeatures = new float[microBatch][];
            }
        }
    }

    @Override
    public void processElement(StreamRecord<Event> record) throws Exception {
        eventsIn.inc();
        if (microBatch > 1) {
            hold(record);
            return;
        }
        long arrived = System.nanoTime();
        Event e = record.getValue();
        KeyState st = stateOfCurrentKey();
        long seq = model.nextSeq(st);
        float[] values = new float[model.outputSize()];
        long t0 = System.nanoTime();
        if (e.features() == null) {
            scorer.stepToken(st, e.token(), values);
        } else {
            scorer.stepFeatures(st, e.features(), values);
        }
        stepTime.update(System.nanoTime() - t0); // the model step alone, as in micro-batches
        store(st);
        output.collect(record.replace(new Score(e.key(), seq, e.ts(), e.id(), modelName, values, probs)));
        scoresOut.inc();
        latency.update(System.nanoTime() - arrived);
    }

    /** The current key's state, a fresh one for a new key. */
    private KeyState stateOfCurrentKey() throws Exception {
        KeyState st = states.value();
        if (st == null) {
            st = model.newState();
            keys++;
        }
        return st;
    }

    /** Stores the current key's state, and with a TTL its last-seen time and expiry timer. */
    private void store(KeyState st) throws Exception {
        states.update(st);
        if (ttlMillis > 0) {
            long now = getProcessingTimeService().getCurrentProcessingTime();
            lastSeen.update(now);
            long granule = Math.max(1, ttlMillis / 10);
            timers.registerProcessingTimeTimer(VoidNamespace.INSTANCE, ((now + ttlMillis) / granule + 1) * granule);
        }
    }

    private void hold(StreamRecord<Event> record) throws Exception {
        Event e = record.getValue();
        String key = e.key();
        int hash = key.hashCode();
        for (int i = 0; i < count; i++) {
            String k = held[i].key();
            if (k.hashCode() == hash && k.equals(key)) {
                flush(); // the key's earlier event first
                setCurrentKey(key);
                break;
            }
        }
        held[count] = e;
        heldHasTimestamp[count] = record.hasTimestamp();
        heldTimestamps[count] = record.getTimestamp();
        heldSince[count] = System.nanoTime();
        count++;
        if (count == microBatch) {
            flush();
        } else if (count == 1 && microBatchWaitMillis > 0) {
            long due = getProcessingTimeService().getCurrentProcessingTime() + microBatchWaitMillis;
            flushTimer = getProcessingTimeService().registerTimer(due, t -> flush());
        } else if (microBatchWaitMillis == 0) {
            flush();
        }
    }

    /** Steps the held events together and emits their scores in arrival order. */
    private void flush() throws Exception {
        if (flushTimer != null) {
            flushTimer.cancel(false);
            flushTimer = null;
        }
        int n = count;
        if (n == 0) {
            return;
        }
        Object keyBefore = getCurrentKey();
        long[] seqs = new long[n];
        for (int i = 0; i < n; i++) {
            Event e = held[i];
            setCurrentKey(e.key());
            heldStates[i] = stateOfCurrentKey();
            seqs[i] = model.nextSeq(heldStates[i]);
            if (heldTokens != null) {
                heldTokens[i] = e.token();
            } else {
                heldFeatures[i] = e.features();
            }
        }
        long t0 = System.nanoTime();
        scorer.stepKeys(heldStates, heldTokens, heldFeatures, n, heldOuts);
        long perEvent = (System.nanoTime() - t0) / n;
        batchSize.update(n);
        StreamRecord<Score> out = new StreamRecord<>(null);
        for (int i = 0; i < n; i++) {
            Event e = held[i];
            setCurrentKey(e.key());
            store(heldStates[i]);
            stepTime.update(perEvent);
            Score score = new Score(e.key(), seqs[i], e.ts(), e.id(), modelName, heldOuts[i].clone(), probs);
            if (heldHasTimestamp[i]) {
                output.collect(out.replace(score, heldTimestamps[i]));
            } else {
                out.eraseTimestamp();
                output.collect(out.replace(score));
            }
            scoresOut.inc();
            latency.update(System.nanoTime() - heldSince[i]);
            held[i] = null;
            heldStates[i] = null;
            if (heldFeatures != null) {
                heldFeatures[i] = null;
            }
        }
        count = 0;
        if (keyBefore != null) {
            setCurrentKey(keyBefore);
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
        Long seen = lastSeen.value();
        if (seen != null && seen + ttlMillis <= timer.getTimestamp()) {
            states.clear();
            lastSeen.clear();
            keys--;
        }
    }

    @Override
    public void onEventTime(InternalTimer<String, VoidNamespace> timer) {}
}
