package io.lseq.bench;

import io.lseq.connectors.event.Event;
import io.lseq.connectors.event.Score;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;

/**
 * Flink's floor for the scoring job: a keyed operator in the scoring operator's place that
 * keeps no state and emits, per event, a {@link Score} of the same shape filled with zeros.
 */
final class PassThroughOperator extends AbstractStreamOperator<Score> implements OneInputStreamOperator<Event, Score> {
    private static final long serialVersionUID = 1L;

    private final String modelName;
    private final int outputSize;
    private final boolean probs;

    PassThroughOperator(String modelName, int outputSize, boolean probs) {
        this.modelName = modelName;
        this.outputSize = outputSize;
        this.probs = probs;
    }

    @Override
    public void processElement(StreamRecord<Event> record) {
        Event e = record.getValue();
        output.collect(record.replace(new Score(e.key(), 0L, e.ts(), e.id(), modelName, new float[outputSize], probs)));
    }
}
