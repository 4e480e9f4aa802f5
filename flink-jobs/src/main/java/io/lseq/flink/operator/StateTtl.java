package io.lseq.flink.operator;

import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.streaming.api.operators.InternalTimerService;

/**
 * The state TTL of {@link ScoringOperator}: a key idle for longer than the TTL (processing time)
 * loses its state. Each key keeps when it was last seen; expiry runs on processing-time timers
 * rounded up to a tenth of the TTL (at most ten timers per key per TTL, however busy the key),
 * so it is exact to that granularity.
 */
final class StateTtl {
    /** Name of the keyed state holding each key's last-seen time. */
    static final String LAST_SEEN = "last-seen";

    private final long ttlMillis;
    private final long granule;
    private final ValueState<Long> lastSeen;
    private final InternalTimerService<VoidNamespace> timers;

    StateTtl(long ttlMillis, ValueState<Long> lastSeen, InternalTimerService<VoidNamespace> timers) {
        this.ttlMillis = ttlMillis;
        this.granule = Math.max(1, ttlMillis / 10);
        this.lastSeen = lastSeen;
        this.timers = timers;
    }

    /** The current key was seen at {@code now}: its expiry moves on. */
    void touch(long now) throws Exception {
        lastSeen.update(now);
        timers.registerProcessingTimeTimer(VoidNamespace.INSTANCE, ((now + ttlMillis) / granule + 1) * granule);
    }

    /**
     * At a timer of the current key: whether the key has been idle for the TTL; if so its
     * last-seen time is cleared, and the caller clears the rest of its state.
     */
    boolean expire(long timerTimestamp) throws Exception {
        Long seen = lastSeen.value();
        if (seen != null && seen + ttlMillis <= timerTimestamp) {
            lastSeen.clear();
            return true;
        }
        return false;
    }
}
