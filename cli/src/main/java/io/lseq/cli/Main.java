package io.lseq.cli;

import io.lseq.core.format.ModelFormatException;
import io.lseq.flink.state.StateMismatchException;
import io.lseq.core.model.DeviceUnavailableException;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The {@code lseq} command line. Every failure ends as one line on standard error and a non-zero
 * status: 2 for a bad command line, 1 for anything else (bad model, missing file). Set
 * {@code LSEQ_DEBUG=1} to also see the stack trace.
 */
public final class Main {
    private static final Map<String, Command> COMMANDS = new LinkedHashMap<>();

    static {
        for (Command c : List.of(new ScoreCommand(), new RunCommand(), new StopCommand(), new BackfillCommand(),
                new InspectCommand())) {
            COMMANDS.put(c.name(), c);
        }
    }

    private Main() {}

    public static void main(String[] argv) {
        System.exit(run(argv));
    }

    /** Runs a command line and returns its exit status. */
    public static int run(String[] argv) {
        if (argv.length == 0 || argv[0].equals("--help") || argv[0].equals("-h") || argv[0].equals("help")) {
            System.out.print(help());
            return argv.length == 0 ? 2 : 0;
        }
        Command cmd = COMMANDS.get(argv[0]);
        if (cmd == null) {
            System.err.println("lseq: unknown command '" + argv[0] + "' (commands: " + String.join(", ", COMMANDS.keySet())
                    + "; lseq --help)");
            return 2;
        }
        String prefix = "lseq " + cmd.name() + ": ";
        Args args = cmd.args();
        try {
            String[] rest = java.util.Arrays.copyOfRange(argv, 1, argv.length);
            if (!args.parse(rest)) {
                System.out.print(args.help());
                return 0;
            }
            return cmd.run(args);
        } catch (UsageException e) {
            System.err.println(prefix + e.getMessage() + " (lseq " + cmd.name() + " --help)");
            return 2;
        } catch (StateMismatchException e) {
            return fail(prefix + e.getMessage(), e);
        } catch (DeviceUnavailableException e) {
            return fail(prefix + "--device " + args.get("device", "") + ": " + e.getMessage(), e);
        } catch (ModelFormatException e) {
            return fail(prefix + "bad model: " + e.getMessage(), e);
        } catch (NoSuchFileException e) {
            return fail(prefix + (e.getReason() != null ? e.getReason() + ": " : "no such file: ") + e.getFile(), e);
        } catch (AccessDeniedException e) {
            return fail(prefix + "permission denied: " + e.getFile(), e);
        } catch (IOException e) {
            return fail(prefix + "I/O error: " + e, e);
        } catch (Exception e) {
            return fail(prefix + e, e);
        } catch (OutOfMemoryError e) {
            return fail(prefix + "out of memory: the JVM's heap is " + Runtime.getRuntime().maxMemory() / (1 << 20)
                    + " MB; give it more with LSEQ_JAVA_OPTS=-Xmx..." + (cmd.name().equals("backfill")
                            ? ", or buffer fewer events with --window" : ""), e);
        }
    }

    private static int fail(String line, Throwable e) {
        System.err.println(line);
        if (System.getenv("LSEQ_DEBUG") != null) {
            e.printStackTrace();
        }
        return 1;
    }

    static String help() {
        StringBuilder b = new StringBuilder("usage: lseq COMMAND [OPTIONS]   (lseq COMMAND --help for its options)\n\n"
                + "Scores unbounded per-key event streams with recurrent models.\n\ncommands:\n");
        for (Command c : COMMANDS.values()) {
            b.append(String.format("  %-10s %s%n", c.name(), c.summary()));
        }
        return b.toString();
    }
}
