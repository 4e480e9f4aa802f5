package io.lseq.sql;

import io.lseq.connectors.event.EventRules;
import io.lseq.core.format.ModelConfig;
import io.lseq.core.model.KeyState;
import io.lseq.core.model.Model;
import io.lseq.core.model.Scorer;
import io.lseq.flink.state.KeyStateSerializer;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Optional;
import org.apache.flink.metrics.Counter;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.catalog.DataTypeFactory;
import org.apache.flink.table.functions.FunctionContext;
import org.apache.flink.table.functions.ProcessTableFunction;
import org.apache.flink.table.functions.TableSemantics;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.inference.CallContext;
import org.apache.flink.table.types.inference.StateTypeStrategy;
import org.apache.flink.table.types.inference.StaticArgument;
import org.apache.flink.table.types.inference.StaticArgumentTrait;
import org.apache.flink.table.types.inference.TypeInference;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.LogicalTypeFamily;
import org.apache.flink.table.types.logical.LogicalTypeRoot;
import org.apache.flink.table.types.logical.RowType;
import org.apache.flink.types.Row;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code LSEQ_SCORE}: scores every row of a table partitioned by key with an lseq model, keeping
 * each key's recurrent state in Flink keyed state. A process table function (FLIP-440) with set
 * semantics:
 *
 * <pre>{@code
 * SELECT * FROM LSEQ_SCORE(input => TABLE events PARTITION BY `key`, model => '/models/fraud-lru')
 * }</pre>
 *
 * <p><b>Input</b>, read by column name: {@code token} (INT or BIGINT) or {@code features} (ARRAY
 * of FLOAT or DOUBLE), whichever the model's input takes, and optionally {@code ts} (BIGINT) and
 * {@code id} (STRING). Other columns are ignored. The one PARTITION BY column is the key.
 *
 * <p><b>Output</b>: the key column (Flink prepends it), then {@code seq} (BIGINT), {@code score}
 * (DOUBLE; the engine's float32 value, widened exactly) or {@code probs} (ARRAY&lt;DOUBLE&gt;) for
 * a classes head, then {@code ts} and {@code id} when the input has them, and {@code error}
 * (STRING). {@code error} is null on scores. A row that is not a valid event (EVENTS.md: a null,
 * empty or over-256-byte key, a key or id that is not valid Unicode, a missing or out-of-range
 * token, a wrong feature count, a null, NaN or infinite feature, both token and features) comes
 * out as one row with {@code seq}, {@code score} null and {@code error} saying why, in EVENTS.md's
 * words; it never touches the key's state and never fails the job. Route them with
 * {@code WHERE error IS NULL} / {@code IS NOT NULL} (docs/SQL.md). They are also counted
 * ({@code lseq.badRows}) and logged with their key.
 *
 * <p><b>State</b>: one entry, {@value #STATE}, a row holding the key's {@link KeyState} as a RAW
 * value written by the DataStream job's {@link KeyStateSerializer} (through {@link KeyStateRawSerializer}), whose snapshot carries the
 * model's state signature: restoring a savepoint of another architecture fails with the same
 * {@code StateMismatchException} as {@code lseq run}. The state type is derived from the model at
 * planning time, which is why this function declares its types in {@link #getTypeInference} instead
 * of annotations.
 */
public class LseqScore extends ProcessTableFunction<Row> {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(LseqScore.class);

    /** The name {@code lseq sql} registers the function under. */
    public static final String NAME = "LSEQ_SCORE";
    /** The state entry's name (the keyed state's name in savepoints). */
    public static final String STATE = "lseqKeyState";
    /** The table argument's name. */
    public static final String INPUT = "input";
    /** The model argument's name. */
    public static final String MODEL = "model";

    private static final int MODEL_ARG = 1;
    private static final long LOG_EVERY = 10_000;

    private transient String modelLocation;
    private transient Model model;
    private transient Scorer scorer;
    private transient float[] out;
    private transient Columns columns;
    private transient Counter eventsIn;
    private transient Counter badRows;
    private transient long bad;

    /** For Flink's reflective instantiation (catalog functions, {@code CREATE FUNCTION}). */
    public LseqScore() {}

    @Override
    public void open(FunctionContext context) throws Exception {
        super.open(context);
        eventsIn = context.getMetricGroup().addGroup("lseq").counter("eventsIn");
        badRows = context.getMetricGroup().addGroup("lseq").counter("badRows");
    }

    /**
     * Scores one row of the key's stream.
     *
     * @param ctx the function's context (table semantics)
     * @param state the key's state entry, a row of one KeyState (null for a new key)
     * @param input the row
     * @param modelArg the model's location
     */
    public void eval(Context ctx, Row state, Row input, String modelArg) {
        if (model == null || !modelArg.equals(modelLocation)) {
            init(ctx, modelArg);
        }
        eventsIn.inc();
        Columns c = columns;
        Object key = input.getField(c.key);
        Long ts = c.ts < 0 ? null : (Long) input.getField(c.ts);
        String id = c.id < 0 ? null : (String) input.getField(c.id);
        // EVENTS.md's rules, as EventParser applies them to JSON records; a key of another SQL type
        // than STRING needs only to be there.
        String error = key == null ? "missing key" : c.stringKey ? EventRules.keyError((String) key) : null;
        if (error == null && id != null) {
            error = EventRules.unicodeError("id", id);
        }
        int token = 0;
        float[] features = null;
        if (error == null) {
            Object tok = c.token < 0 ? null : input.getField(c.token);
            Object feat = c.features < 0 ? null : input.getField(c.features);
            error = EventRules.inputError(c.tokens, tok != null, feat != null);
            if (error == null && c.tokens) {
                long t = ((Number) tok).longValue();
                error = EventRules.tokenError(t, model.config().input().vocabSize());
                token = (int) t;
            } else if (error == null) {
                Object[] a = (Object[]) feat; // ARRAY<FLOAT> or ARRAY<DOUBLE>
                features = new float[a.length];
                for (int i = 0; i < a.length && error == null; i++) {
                    error = a[i] == null ? "features[" + i + "] must be a number, got null"
                            : EventRules.featureError(i, ((Number) a[i]).doubleValue());
                    features[i] = error == null ? ((Number) a[i]).floatValue() : 0;
                }
                if (error == null) {
                    error = EventRules.featureCountError(c.dim, a.length);
                }
            }
        }
        if (error != null) {
            rejected(key, error);
            collect(c.row(null, null, ts, id, error));
            return;
        }
        KeyState held = state.getArity() > 0 ? (KeyState) state.getField(0) : null;
        // Always a new object: Flink decides whether to write the state back by comparing the RAW
        // values' objects, and may hold the old one's serialized bytes (see docs/SQL.md, State).
        KeyState next = held == null ? model.newState() : held.copy();
        long seq = model.nextSeq(next);
        try {
            if (c.tokens) {
                scorer.stepToken(next, token, out);
            } else {
                scorer.stepFeatures(next, features, out);
            }
        } catch (IllegalArgumentException e) {
            rejected(key, e.getMessage()); // the engine's own check; the state is untouched
            collect(c.row(null, null, ts, id, e.getMessage()));
            return;
        }
        state.setField(0, next);
        collect(c.row(seq, out, ts, id, null));
    }

    private void init(Context ctx, String location) {
        Model m = ModelLocation.load(location);
        TableSemantics semantics = ctx.tableSemanticsFor(INPUT);
        columns = new Columns(m, semantics);
        model = m;
        modelLocation = location;
        scorer = m.newScorer();
        out = new float[m.outputSize()];
    }

    private void rejected(Object key, String error) {
        badRows.inc();
        bad++;
        if (bad <= 100 || bad % LOG_EVERY == 0) {
            LOG.warn("LSEQ_SCORE: rejected row of key {}: {} ({} rejected so far{})", key, error, bad,
                    bad == 100 ? "; from now on every " + LOG_EVERY + "th is logged" : "");
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Types: the state's serializer and the output's columns depend on the model, read on the client.

    @Override
    public TypeInference getTypeInference(DataTypeFactory typeFactory) {
        LinkedHashMap<String, StateTypeStrategy> state = new LinkedHashMap<>();
        state.put(STATE, StateTypeStrategy.of(call -> Optional.of(stateType(modelOf(call)))));
        return TypeInference.newBuilder()
                .staticArguments(
                        StaticArgument.table(INPUT, Row.class, false, EnumSet.of(StaticArgumentTrait.SET_SEMANTIC_TABLE)),
                        StaticArgument.scalar(MODEL, DataTypes.STRING(), false))
                .stateTypeStrategies(state)
                .outputTypeStrategy(call -> Optional.of(outputType(modelOf(call), inputType(call))))
                .build();
    }

    /** The state entry's type for {@code model}: a row of one RAW KeyState, written by the DataStream job's serializer. */
    static DataType stateType(Model model) {
        return DataTypes.ROW(DataTypes.FIELD("keyState",
                DataTypes.RAW(KeyState.class, new KeyStateRawSerializer(KeyStateSerializer.forModel(model)))));
    }

    private static Model modelOf(CallContext call) {
        if (!call.isArgumentLiteral(MODEL_ARG)) {
            throw new ValidationException(NAME + ": model must be a literal string, such as model => '/models/fraud-lru'");
        }
        String location = call.getArgumentValue(MODEL_ARG, String.class)
                .orElseThrow(() -> new ValidationException(NAME + ": model must not be null"));
        try {
            return ModelLocation.forPlanning(location);
        } catch (RuntimeException e) {
            throw new ValidationException(NAME + ": cannot load model " + location + ": " + e.getMessage(), e);
        }
    }

    private static RowType inputType(CallContext call) {
        TableSemantics t = call.getTableSemantics(0)
                .orElseThrow(() -> new ValidationException(NAME + ": input must be a table: input => TABLE t PARTITION BY key"));
        if (t.partitionByColumns().length != 1) {
            throw new ValidationException(NAME + ": input needs PARTITION BY one key column, got "
                    + t.partitionByColumns().length);
        }
        RowType row = (RowType) t.dataType().getLogicalType();
        new Columns(modelOf(call), row, t.partitionByColumns()[0]); // validates the columns' names and types
        return row;
    }

    private static DataType outputType(Model model, RowType input) {
        List<DataTypes.Field> fields = new ArrayList<>();
        fields.add(DataTypes.FIELD("seq", DataTypes.BIGINT()));
        fields.add(model.emitsProbabilities() ? DataTypes.FIELD("probs", DataTypes.ARRAY(DataTypes.DOUBLE()))
                : DataTypes.FIELD("score", DataTypes.DOUBLE()));
        if (input.getFieldNames().contains("ts")) {
            fields.add(DataTypes.FIELD("ts", DataTypes.BIGINT()));
        }
        if (input.getFieldNames().contains("id")) {
            fields.add(DataTypes.FIELD("id", DataTypes.STRING()));
        }
        fields.add(DataTypes.FIELD("error", DataTypes.STRING()));
        return DataTypes.ROW(fields.toArray(new DataTypes.Field[0]));
    }

    /** Where the columns the function reads are, and how to build its output rows. */
    static final class Columns {
        final boolean tokens;
        final int dim;
        final int key;
        final boolean stringKey;
        final int token;
        final int features;
        final int ts;
        final int id;
        final boolean probs;

        Columns(Model model, TableSemantics semantics) {
            this(model, (RowType) semantics.dataType().getLogicalType(), semantics.partitionByColumns()[0]);
        }

        Columns(Model model, RowType row, int key) {
            ModelConfig.Input in = model.config().input();
            this.tokens = in.tokens();
            this.dim = in.dim();
            this.key = key;
            this.probs = model.emitsProbabilities();
            List<String> names = row.getFieldNames();
            this.stringKey = row.getTypeAt(key).is(LogicalTypeFamily.CHARACTER_STRING);
            this.token = names.indexOf("token");
            this.features = names.indexOf("features");
            this.ts = names.indexOf("ts");
            this.id = names.indexOf("id");
            String model_ = model.config().name();
            if (tokens && token < 0) {
                throw new ValidationException(NAME + ": model " + model_ + " takes tokens: the input needs a column "
                        + "`token` (INT or BIGINT); it has " + names);
            }
            if (!tokens && features < 0) {
                throw new ValidationException(NAME + ": model " + model_ + " takes " + dim + " features: the input needs "
                        + "a column `features` (ARRAY<FLOAT> or ARRAY<DOUBLE>); it has " + names);
            }
            if (token >= 0) {
                LogicalTypeRoot r = row.getTypeAt(token).getTypeRoot();
                if (r != LogicalTypeRoot.INTEGER && r != LogicalTypeRoot.BIGINT) {
                    throw new ValidationException(NAME + ": column `token` must be INT or BIGINT, is " + row.getTypeAt(token));
                }
            }
            if (features >= 0) {
                LogicalType t = row.getTypeAt(features);
                LogicalTypeRoot e = t.getTypeRoot() == LogicalTypeRoot.ARRAY ? t.getChildren().get(0).getTypeRoot() : null;
                if (e != LogicalTypeRoot.FLOAT && e != LogicalTypeRoot.DOUBLE) {
                    throw new ValidationException(NAME + ": column `features` must be ARRAY<FLOAT> or ARRAY<DOUBLE>, is " + t);
                }
            }
            if (ts >= 0 && row.getTypeAt(ts).getTypeRoot() != LogicalTypeRoot.BIGINT) {
                throw new ValidationException(NAME + ": column `ts` must be BIGINT (epoch milliseconds), is "
                        + row.getTypeAt(ts) + "; cast it, e.g. CAST(ts AS BIGINT) AS ts");
            }
            if (id >= 0 && !row.getTypeAt(id).is(LogicalTypeFamily.CHARACTER_STRING)) {
                throw new ValidationException(NAME + ": column `id` must be STRING, is " + row.getTypeAt(id));
            }
        }

        /** One output row: seq, score or probs, [ts], [id], error. */
        Row row(Long seq, float[] values, Long tsValue, String idValue, String error) {
            Row r = new Row(3 + (ts >= 0 ? 1 : 0) + (id >= 0 ? 1 : 0));
            int i = 0;
            r.setField(i++, seq);
            if (values == null) {
                r.setField(i++, null);
            } else if (probs) {
                Double[] p = new Double[values.length];
                for (int k = 0; k < p.length; k++) {
                    p[k] = (double) values[k];
                }
                r.setField(i++, p);
            } else {
                r.setField(i++, (double) values[0]);
            }
            if (ts >= 0) {
                r.setField(i++, tsValue);
            }
            if (id >= 0) {
                r.setField(i++, idValue);
            }
            r.setField(i, error);
            return r;
        }
    }
}
