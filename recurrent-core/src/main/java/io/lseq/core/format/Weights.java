package io.lseq.core.format;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The tensors of one model file, handed out once each by name and shape. Whatever is asked for
 * and absent, or has another shape, is an error naming the tensor; whatever is left at the end
 * is an extra tensor and an error too ({@link #requireAllTaken}).
 */
public class Weights {
    private final String file;
    private final Map<String, Tensor> left;
    private long taken;

    /**
     * @param file the file the tensors came from, for messages
     * @param tensors by name
     */
    public Weights(String file, Map<String, Tensor> tensors) {
        this.file = file;
        this.left = new LinkedHashMap<>(tensors);
    }

    /** Takes a tensor that must exist with exactly {@code shape}. */
    public float[] take(String name, int... shape) {
        Tensor t = remove(name, shape);
        if (t == null) {
            throw new ModelFormatException(file, "missing tensor " + name + " (expected shape " + Arrays.toString(shape) + ")");
        }
        if (!t.hasShape(shape)) {
            throw new ModelFormatException(file, "tensor " + name + " has shape " + t.shapeText() + ", expected "
                    + Arrays.toString(shape));
        }
        taken += t.data().length;
        return t.data();
    }

    /** Takes a tensor if present (then with exactly {@code shape}), otherwise returns null. */
    public float[] takeOptional(String name, int... shape) {
        return has(name) ? take(name, shape) : null;
    }

    /** Whether a tensor of that name is present and not yet taken. */
    public boolean has(String name) {
        return left.containsKey(name);
    }

    /**
     * Removes and returns the tensor {@code name}, or null when absent; {@code shape} is what the
     * caller expects. Subclasses may supply tensors from elsewhere (tests generate them).
     */
    protected Tensor remove(String name, int[] shape) {
        return left.remove(name);
    }

    /** Number of parameters taken so far. */
    public long parametersTaken() {
        return taken;
    }

    /** The file name used in messages. */
    public String file() {
        return file;
    }

    /** Fails on the first tensor nobody asked for. */
    public void requireAllTaken() {
        if (!left.isEmpty()) {
            String name = left.keySet().iterator().next();
            throw new ModelFormatException(file, "unexpected tensor " + name + " " + left.get(name).shapeText()
                    + (left.size() > 1 ? " (and " + (left.size() - 1) + " more)" : "")
                    + ": the config does not use it");
        }
    }
}
