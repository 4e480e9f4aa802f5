package io.lseq.flink.operator;

import io.lseq.connectors.event.Event;
import io.lseq.connectors.event.Score;
import io.lseq.core.model.KeyState;
import io.lseq.core.model.Model;
import io.lseq.core.model.Scorer;
import io.lseq.flink.job.ModelSource;
import io.lseq.flink.state.KeyStateSerializer;
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
import org.apache.flink.streaming.api.operators.InternalTimer;
import org.apache.flink.streaming.api.operators.InternalTimerService;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.api.operators.Triggerable;
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
 * <p>Metrics (group {@code lseq}): {@code eventsIn}, {@code scoresOut}, {@code keysWithState},
 * {@code stepTimeNanos} (histogram of the model step per event).
 */
public final class ScoringOperator extends AbstractStreamOperator<Score>
        implements OneInputStreamOperator<Event, Score>, Triggerable<String, VoidNamespace> {
    private static final long serialVersionUID = 1L;

    /** The operator's uid: a savepoint's states are found by it. */
    public static final String UID = "lseq-scoring";
    /** Name of the keyed state holding each key's {@link KeyState}. */
    public static final String STATE_NAME = "key-state";
    private static final String LAST_SEEN = "last-seen";

    private final ModelSource modelSource;
    private final long ttlMillis;

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
    private transient long keys;

    /**
     * @param ttlMillis idle time after which a key's state is dropped, or 0 to keep it forever
     */
    public ScoringOperator(ModelSource model, long ttlMillis) {
        this.modelSource = model;
        this.ttlMillis = ttlMillis;
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
    }

    @Override
    public void processElement(StreamRecord<Event> record) throws Exception {
        Event e = record.getValue();
        eventsIn.inc();
        KeyState st = states.value();
        if (st == null) {
            st = model.newState();
            keys++;
        }
        long seq = model.nextSeq(st);
        float[] values = new float[model.outputSize()];
        long t0 = System.nanoTime();
        if (e.features() == null) {
            scorer.stepToken(st, e.token(), values);
        } else {
            scorer.stepFeatures(st, e.features(), values);
        }
        stepTime.update(System.nanoTime() - t0);
        states.update(st);
        if (ttlMillis > 0) {
            long now = getProcessingTimeService().getCurrentProcessingTime();
            lastSeen.update(now);
            long granule = Math.max(1, ttlMillis / 10);
            timers.registerProcessingTimeTimer(VoidNamespace.INSTANCE, ((now + ttlMillis) / granule + 1) * granule);
        }
        output.collect(record.replace(new Score(e.key(), seq, e.ts(), e.id(), modelName, values, probs)));
        scoresOut.inc();
    }

    @Override
    public void onProcessingTime(InternalTimer<String, VoidNamespace> timer) throws Exception {
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
