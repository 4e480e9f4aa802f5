package io.lseq.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The options of one command: {@code --name value}, {@code --name=value} or a bare {@code --flag}.
 * Every option is declared with its help text, so {@link #help()} and the checks come from one
 * table.
 */
public final class Args {
    /** One declared option. */
    public record Option(String name, String value, String help, boolean required, boolean repeatable) {}

    private final String usage;
    private final String summary;
    private final Map<String, Option> options = new LinkedHashMap<>();
    private final Map<String, List<String>> given = new LinkedHashMap<>();

    /**
     * @param usage the synopsis, e.g. {@code lseq score --model DIR ...}
     * @param summary what the command does, one paragraph
     */
    public Args(String usage, String summary) {
        this.usage = usage;
        this.summary = summary;
        flag("help", "print this help and exit");
    }

    /** Declares a required option taking a value. */
    public Args required(String name, String value, String help) {
        options.put(name, new Option(name, value, help, true, false));
        return this;
    }

    /** Declares an optional option taking a value. */
    public Args optional(String name, String value, String help) {
        options.put(name, new Option(name, value, help, false, false));
        return this;
    }

    /** Declares an option that may be given several times. */
    public Args repeatable(String name, String value, String help) {
        options.put(name, new Option(name, value, help, false, true));
        return this;
    }

    /** Declares a flag without a value. */
    public Args flag(String name, String help) {
        options.put(name, new Option(name, null, help, false, false));
        return this;
    }

    /**
     * Reads {@code argv}. Returns false when {@code --help} was given (the caller prints
     * {@link #help()}); throws {@link UsageException} on anything unknown, repeated or missing.
     */
    public boolean parse(String[] argv) {
        for (int i = 0; i < argv.length; i++) {
            String a = argv[i];
            if (!a.startsWith("--") || a.length() == 2) {
                throw new UsageException("unexpected argument '" + a + "'");
            }
            String name = a.substring(2);
            String value = null;
            int eq = name.indexOf('=');
            if (eq >= 0) {
                value = name.substring(eq + 1);
                name = name.substring(0, eq);
            }
            Option o = options.get(name);
            if (o == null) {
                throw new UsageException("unknown option --" + name + " (options: " + String.join(", ",
                        options.keySet().stream().map(k -> "--" + k).toList()) + ")");
            }
            if (o.value() == null) {
                if (value != null) {
                    throw new UsageException("--" + name + " takes no value");
                }
                value = "true";
            } else if (value == null) {
                if (i + 1 >= argv.length) {
                    throw new UsageException("--" + name + " needs a value: --" + name + " " + o.value());
                }
                value = argv[++i];
            }
            List<String> values = given.computeIfAbsent(name, k -> new ArrayList<>());
            if (!values.isEmpty() && !o.repeatable()) {
                throw new UsageException("--" + name + " is given twice");
            }
            values.add(value);
        }
        if (has("help")) {
            return false;
        }
        for (Option o : options.values()) {
            if (o.required() && !given.containsKey(o.name())) {
                throw new UsageException("missing --" + o.name() + " " + o.value());
            }
        }
        return true;
    }

    /** Whether the option or flag was given. */
    public boolean has(String name) {
        return given.containsKey(name);
    }

    /** The option's value, or {@code dflt} when absent. */
    public String get(String name, String dflt) {
        List<String> v = given.get(name);
        return v == null ? dflt : v.get(0);
    }

    /** The option's value; it must be declared required or have been checked with {@link #has}. */
    public String get(String name) {
        return get(name, null);
    }

    /** Every value of a repeatable option, in order. */
    public List<String> all(String name) {
        return given.getOrDefault(name, List.of());
    }

    /** The option's value as a positive integer. */
    public int positiveInt(String name, int dflt) {
        String v = get(name);
        if (v == null) {
            return dflt;
        }
        try {
            int n = Integer.parseInt(v);
            if (n > 0) {
                return n;
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new UsageException("--" + name + " must be a positive integer, got '" + v + "'");
    }

    /** Every {@code KEY=VALUE} of a repeatable option, as properties. */
    public java.util.Properties properties(String name) {
        java.util.Properties p = new java.util.Properties();
        for (String kv : all(name)) {
            int eq = kv.indexOf('=');
            if (eq <= 0) {
                throw new UsageException("--" + name + " needs KEY=VALUE, got '" + kv + "'");
            }
            p.setProperty(kv.substring(0, eq), kv.substring(eq + 1));
        }
        return p;
    }

    /** The help text: usage, summary, then every option. */
    public String help() {
        StringBuilder b = new StringBuilder("usage: ").append(usage).append("\n\n").append(summary).append("\n\noptions:\n");
        for (Option o : options.values()) {
            String left = "  --" + o.name() + (o.value() == null ? "" : " " + o.value());
            b.append(left);
            b.append(" ".repeat(Math.max(2, 30 - left.length())));
            b.append(o.help());
            if (o.required()) {
                b.append(" (required)");
            }
            if (o.repeatable()) {
                b.append(" (repeatable)");
            }
            b.append('\n');
        }
        return b.toString();
    }
}
