package io.lseq.flink.operator;

import io.lseq.connectors.event.DeadLetter;
import io.lseq.connectors.event.Event;
import io.lseq.connectors.event.EventParser;
import io.lseq.connectors.event.InvalidEventException;
import io.lseq.core.format.ModelConfig;
import io.lseq.connectors.RawRecord;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;

/**
 * Turns raw records into events; anything invalid goes to the {@link #DEAD_LETTERS} side output
 * with its reason and source, and never reaches a key's state. Metrics (group {@code lseq}):
 * {@code recordsIn}, {@code recordsRejected}.
 */
public final class ParseEvents extends ProcessFunction<RawRecord, Event> {
    private static final long serialVersionUID = 1L;

    /** Rejected records. */
    public static final OutputTag<DeadLetter> DEAD_LETTERS = new OutputTag<>("dead-letters") {
        private static final long serialVersionUID = 1L;
    };

    private final ModelConfig.Input input;
    private transient EventParser parser;
    private transient Counter in;
    private transient Counter rejected;

    /** Parses events for a model with this input. */
    public ParseEvents(ModelConfig.Input input) {
        this.input = input;
    }

    @Override
    public void open(OpenContext ctx) {
        parser = new EventParser(input);
        in = getRuntimeContext().getMetricGroup().addGroup("lseq").counter("recordsIn");
        rejected = getRuntimeContext().getMetricGroup().addGroup("lseq").counter("recordsRejected");
    }

    @Override
    public void processElement(RawRecord r, Context ctx, Collector<Event> out) {
        in.inc();
        try {
            out.collect(parser.parse(r.value(), 0, r.value().length, r.length(), r.recordKey()));
        } catch (InvalidEventException ex) {
            rejected.inc();
            ctx.output(DEAD_LETTERS, DeadLetter.of(ex.getMessage(), r.value(), 0, r.value().length, r.source()));
        }
    }
}
