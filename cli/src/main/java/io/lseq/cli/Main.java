package io.lseq.cli;

import io.lseq.core.format.ModelFormatException;
import io.lseq.core.model.DeviceUnavailableException;
import io.lseq.flink.state.StateMismatchException;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Callable;
import org.apache.flink.util.TimeUtils;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.HelpCommand;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.UsageMessageSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.TypeConversionException;

/**
 * The {@code lseq} command line. Every failure ends as one line on standard error and a non-zero
 * status: 2 for a bad command line, 1 for anything else (bad model, missing file). Set
 * {@code LSEQ_DEBUG=1} to also see the stack trace.
 */
@Command(name = "lseq", mixinStandardHelpOptions = true,
        customSynopsis = "lseq COMMAND [OPTIONS]   (lseq COMMAND --help for its options)",
        description = "Scores unbounded per-key event streams with recurrent models.", commandListHeading = "%ncommands:%n",
        subcommands = {ScoreCommand.class, RunCommand.class, SqlCommand.class, StopCommand.class, BackfillCommand.class, UpgradeCommand.class,
            InspectCommand.class,
            CompletionCommand.class, HelpCommand.class})
public final class Main {
    private Main() {}

    public static void main(String[] argv) {
        System.exit(run(argv));
    }

    /** Runs a command line and returns its exit status. */
    public static int run(String[] argv) {
        CommandLine top = commandLine();
        ParseResult parsed;
        try {
            parsed = top.parseArgs(argv);
        } catch (ParameterException e) {
            System.err.println(usageError(e));
            return 2;
        }
        Integer help = CommandLine.executeHelpRequest(parsed);
        if (help != null) {
            return help;
        }
        if (!parsed.hasSubcommand()) {
            System.out.print(top.getUsageMessage());
            return 2;
        }
        ParseResult sub = parsed.subcommand();
        String name = sub.commandSpec().name();
        String prefix = "lseq " + name + ": ";
        try {
            return ((Callable<?>) sub.commandSpec().userObject()).call() instanceof Integer status ? status : 0;
        } catch (UsageException e) {
            System.err.println(prefix + e.getMessage() + " (lseq " + name + " --help)");
            return 2;
        } catch (StateMismatchException e) {
            return fail(prefix + e.getMessage(), e);
        } catch (DeviceUnavailableException e) {
            return fail(prefix + "--device " + sub.matchedOptionValue("--device", "auto") + ": " + e.getMessage(), e);
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
                    + " MB; give it more with LSEQ_JAVA_OPTS=-Xmx..." + (name.equals("backfill")
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

    /**
     * Every command, its options typed, its help laid out as {@code usage: SYNOPSIS}, the
     * description, then the options in the order declared. Help goes to the current standard out.
     */
    static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main())
                .setOut(new PrintWriter(System.out, true))
                .setErr(new PrintWriter(System.err, true))
                .setUsageHelpWidth(110)
                .setUsageHelpLongOptionsMaxWidth(32)
                // Every int option counts something, every duration is a wait or an age.
                .registerConverter(int.class, Main::positive)
                .registerConverter(Duration.class, Main::positiveDuration)
                .registerConverter(Long.class, Main::epochMillis) // lseq backfill --until
                .registerConverter(JobManagerAddress.class, JobManagerAddress::parse);
        List<CommandLine> all = new ArrayList<>(cl.getSubcommands().values());
        all.add(cl);
        for (CommandLine c : all) {
            c.getCommandSpec().versionProvider(new Version()).usageMessage().synopsisHeading("usage: ").descriptionHeading("%n")
                    .optionListHeading("%noptions:%n").sortOptions(false);
        }
        // A command's header is its line in lseq --help, not the top of its own help.
        cl.setHelpSectionKeys(cl.getHelpSectionKeys().stream().filter(k -> !k.equals(UsageMessageSpec.SECTION_KEY_HEADER)
                && !k.equals(UsageMessageSpec.SECTION_KEY_HEADER_HEADING)).toList());
        return cl;
    }

    /** A bad command line as one line: {@code lseq CMD: what is wrong (lseq CMD --help)}. */
    static String usageError(ParameterException e) {
        String name = e.getCommandLine().getCommandSpec().qualifiedName();
        return name + ": " + message(e) + " (" + name + " --help)";
    }

    /** What is wrong with a command line, in lseq's words where picocli's would be vague or long. */
    static String message(ParameterException e) {
        Throwable cause = e.getCause();
        if (cause instanceof UsageException) {
            return cause.getMessage();
        }
        if (cause instanceof TypeConversionException && e.getArgSpec() instanceof OptionSpec o) {
            return o.longestName() + " " + cause.getMessage();
        }
        // Before a missing option: what the user typed wrong (picocli checks the required ones first).
        List<String> unmatched = e.getCommandLine().getUnmatchedArguments();
        if (!unmatched.isEmpty()) {
            String arg = unmatched.get(0);
            var spec = e.getCommandLine().getCommandSpec();
            if (arg.startsWith("-")) {
                return "unknown option " + arg + " (options: " + String.join(", ", spec.options().stream()
                        .map(OptionSpec::longestName).toList()) + ")";
            }
            return spec.parent() == null ? "unknown command '" + arg + "' (commands: "
                    + String.join(", ", spec.subcommands().keySet()) + ")" : "unexpected argument '" + arg + "'";
        }
        String m = e.getMessage();
        return m.isEmpty() ? m : Character.toLowerCase(m.charAt(0)) + m.substring(1);
    }

    private static int positive(String v) {
        try {
            int n = Integer.parseInt(v);
            if (n > 0) {
                return n;
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new TypeConversionException("must be a positive integer, got '" + v + "'");
    }

    private static Duration positiveDuration(String v) {
        try {
            Duration d = TimeUtils.parseDuration(v);
            if (!d.isZero() && !d.isNegative()) {
                return d;
            }
        } catch (IllegalArgumentException ignored) {
            // reported below
        }
        throw new TypeConversionException("must be a positive duration like 10s, 5min, 7d; got '" + v + "'");
    }

    /** A duration that may be zero ({@code --buffer-timeout 0}); the others must be positive. */
    static final class ZeroOrMoreDuration implements CommandLine.ITypeConverter<Duration> {
        @Override
        public Duration convert(String v) {
            try {
                Duration d = TimeUtils.parseDuration(v);
                if (!d.isNegative()) {
                    return d;
                }
            } catch (IllegalArgumentException ignored) {
                // reported below
            }
            throw new TypeConversionException("must be a duration like 0, 1ms, 100ms; got '" + v + "'");
        }
    }

    private static Long epochMillis(String v) {
        try {
            return Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw new TypeConversionException("must be epoch milliseconds, got '" + v + "'");
        }
    }

    /** Every {@code KEY=VALUE} of a repeatable option, as properties. */
    static Properties properties(String option, List<String> pairs) {
        Properties p = new Properties();
        for (String kv : pairs) {
            int eq = kv.indexOf('=');
            if (eq <= 0) {
                throw new UsageException(option + " needs KEY=VALUE, got '" + kv + "'");
            }
            p.setProperty(kv.substring(0, eq), kv.substring(eq + 1));
        }
        return p;
    }

    /** {@code lseq --version}: the version the build wrote into {@code version.properties}. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() throws IOException {
            Properties p = new Properties();
            try (InputStream in = Main.class.getResourceAsStream("version.properties")) {
                p.load(in);
            }
            return new String[] {"lseq " + p.getProperty("version")};
        }
    }
}
