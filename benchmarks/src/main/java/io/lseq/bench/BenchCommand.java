package io.lseq.bench;

/**
 * The frame of a benchmark command: options as {@code --name value} pairs, {@code --help}, and a
 * bad command line as one line on standard error, the usage, and exit status 2.
 */
public abstract class BenchCommand {
    /** The usage text {@code --help} prints. */
    protected abstract String usage();

    /**
     * Takes one option.
     *
     * @throws IllegalArgumentException for an unknown option or a bad value
     */
    protected abstract void option(String name, String value);

    /** Checks the options together and fills in defaults, after all were taken. */
    protected void validate() {}

    /** Runs the benchmark. */
    protected abstract void run() throws Exception;

    /** Parses {@code args} and runs, as {@code main} of the command {@code name}. */
    protected final void main(String name, String[] args) throws Exception {
        try {
            if (!parse(args)) {
                System.out.println(usage());
                return;
            }
        } catch (IllegalArgumentException e) {
            System.err.println(name + ": " + e.getMessage());
            System.err.println(usage());
            System.exit(2);
        }
        run();
    }

    /**
     * Takes every option, then {@link #validate()}s.
     *
     * @return false if {@code --help} was asked for
     */
    public final boolean parse(String[] args) {
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--help") || a.equals("-h")) {
                return false;
            }
            if (i + 1 >= args.length) {
                throw new IllegalArgumentException(a.startsWith("--") ? a + " needs a value" : "unexpected argument '" + a + "'");
            }
            option(a, args[++i]);
        }
        validate();
        return true;
    }

    /** The median of {@code xs} (NaN for none): how every command reduces its rounds. */
    public static double median(double[] xs) {
        if (xs.length == 0) {
            return Double.NaN;
        }
        double[] a = xs.clone();
        java.util.Arrays.sort(a);
        return a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
    }

    /** A whole number > 0 (underscores allowed: 1_000_000). */
    public static long positive(String opt, String v) {
        long n = nonNegative(opt, v);
        if (n == 0) {
            throw new IllegalArgumentException(opt + " must be positive");
        }
        return n;
    }

    /** A whole number >= 0 (underscores allowed). */
    public static long nonNegative(String opt, String v) {
        try {
            long n = Long.parseLong(v.replace("_", ""));
            if (n < 0) {
                throw new IllegalArgumentException(opt + " must not be negative, got " + v);
            }
            return n;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(opt + " needs a whole number, got '" + v + "'");
        }
    }
}
