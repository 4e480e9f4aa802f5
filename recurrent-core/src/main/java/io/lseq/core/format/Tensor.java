package io.lseq.core.format;

import java.util.Arrays;

/**
 * One named tensor, decoded to float32, row-major.
 *
 * @param name the safetensors name, e.g. {@code blocks.0.mixer.B_re}
 * @param dtype the stored type it was decoded from
 * @param shape its dimensions
 * @param data its elements, row-major
 */
public record Tensor(String name, DType dtype, int[] shape, float[] data) {

    /** Shape as text, e.g. {@code [128, 64]}. */
    public String shapeText() {
        return Arrays.toString(shape);
    }

    /** Whether the shape equals {@code expected}. */
    public boolean hasShape(int... expected) {
        return Arrays.equals(shape, expected);
    }
}
