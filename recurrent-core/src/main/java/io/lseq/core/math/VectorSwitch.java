package io.lseq.core.math;

/**
 * Decides once whether {@link Linear}, {@link Vec} and {@link Gelu} use {@link VectorKernels}: system property
 * {@code lseq.vector} = {@code auto} (the default: when the JVM was started with
 * {@code --add-modules jdk.incubator.vector}), {@code true} (the same, but says why not when it
 * cannot), or {@code false}.
 */
public final class VectorSwitch {
    /** Whether the kernels of this package use the Vector API; fixed at class load, so the JIT folds it. */
    public static final boolean ON = enabled();

    private VectorSwitch() {}

    private static boolean enabled() {
        String mode = System.getProperty("lseq.vector", "auto");
        if (mode.equals("false")) {
            return false;
        }
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            if (mode.equals("true")) {
                System.err.println("lseq: -Dlseq.vector=true, but the JVM lacks --add-modules jdk.incubator.vector; "
                        + "using the scalar kernels");
            }
            return false;
        }
        try {
            return VectorKernels.lanes() >= 4; // links the class: any LinkageError means no
        } catch (LinkageError e) {
            System.err.println("lseq: the Vector API is not usable (" + e + "); using the scalar kernels");
            return false;
        }
    }
}
