package io.lseq.sql;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;

/**
 * Runs Flink SQL scripts with {@code LSEQ_SCORE} registered: what {@code lseq sql -f FILE} does,
 * and what tests and embedding programs can call.
 */
public final class SqlScript {
    private SqlScript() {}

    /**
     * A streaming table environment on {@code conf} (an embedded MiniCluster unless it names a
     * remote target) with {@code LSEQ_SCORE} registered. Process table functions run in streaming
     * mode only.
     */
    public static StreamTableEnvironment environment(Configuration conf) {
        return environment(StreamExecutionEnvironment.getExecutionEnvironment(conf), conf);
    }

    /** As {@link #environment(Configuration)}, on a given execution environment (a remote one, say). */
    public static StreamTableEnvironment environment(StreamExecutionEnvironment env, Configuration conf) {
        StreamTableEnvironment tEnv = StreamTableEnvironment.create(env,
                EnvironmentSettings.newInstance().inStreamingMode().withConfiguration(conf).build());
        register(tEnv);
        return tEnv;
    }

    /** Registers {@code LSEQ_SCORE} as a temporary system function of {@code tEnv}. */
    public static void register(TableEnvironment tEnv) {
        tEnv.createTemporarySystemFunction(LseqScore.NAME, LseqScore.class);
    }

    /**
     * Splits a script into statements at each {@code ;} that is not inside a quoted string, a
     * quoted identifier or a comment. {@code EXECUTE STATEMENT SET BEGIN ... END} (and
     * {@code BEGIN STATEMENT SET; ... END;}) stays one statement, its inner {@code ;} included.
     * Comments are kept in the statement text (Flink's parser skips them); empty statements go.
     */
    public static List<String> split(String script) {
        List<String> pieces = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        int n = script.length();
        for (int i = 0; i < n; i++) {
            char c = script.charAt(i);
            if (c == '\'' || c == '"' || c == '`') {
                int j = i + 1;
                while (j < n) {
                    if (script.charAt(j) == c) {
                        if (j + 1 < n && script.charAt(j + 1) == c) {
                            j += 2; // a doubled quote is the quote itself
                            continue;
                        }
                        break;
                    }
                    j++;
                }
                cur.append(script, i, Math.min(j + 1, n));
                i = j;
            } else if (c == '-' && i + 1 < n && script.charAt(i + 1) == '-') {
                int j = script.indexOf('\n', i);
                j = j < 0 ? n : j;
                cur.append(script, i, j);
                i = j - 1;
            } else if (c == '/' && i + 1 < n && script.charAt(i + 1) == '*') {
                int j = script.indexOf("*/", i + 2);
                j = j < 0 ? n : j + 2;
                cur.append(script, i, j);
                i = j - 1;
            } else if (c == ';') {
                pieces.add(cur.toString());
                cur.setLength(0);
            } else {
                cur.append(c);
            }
        }
        pieces.add(cur.toString());

        List<String> statements = new ArrayList<>();
        List<String> set = null; // the statements of an open statement set
        for (String p : pieces) {
            String words = normalized(p);
            if (set != null) {
                if (words.equals("END")) {
                    statements.add("EXECUTE STATEMENT SET BEGIN\n" + String.join(";\n", set) + ";\nEND");
                    set = null;
                } else if (!words.isEmpty()) {
                    set.add(p.strip());
                }
            } else if (words.equals("BEGIN STATEMENT SET")) {
                set = new ArrayList<>();
            } else if (words.startsWith("EXECUTE STATEMENT SET BEGIN")) {
                set = new ArrayList<>();
                String first = p.strip().substring(p.strip().toUpperCase(Locale.ROOT).indexOf("BEGIN") + 5).strip();
                if (!first.isEmpty()) {
                    set.add(first);
                }
            } else if (!words.isEmpty()) {
                statements.add(p.strip());
            }
        }
        if (set != null) {
            throw new IllegalArgumentException("a statement set without END");
        }
        return statements;
    }

    private static final java.util.regex.Pattern SET = java.util.regex.Pattern.compile(
            "SET\\s+(?:'((?:[^']|'')*)'|([A-Za-z0-9_.\\-]+))\\s*=\\s*(?:'((?:[^']|'')*)'|(\\S+))",
            java.util.regex.Pattern.CASE_INSENSITIVE | java.util.regex.Pattern.DOTALL);
    private static final java.util.regex.Pattern RESET = java.util.regex.Pattern.compile(
            "RESET\\s+(?:'((?:[^']|'')*)'|([A-Za-z0-9_.\\-]+))", java.util.regex.Pattern.CASE_INSENSITIVE | java.util.regex.Pattern.DOTALL);

    /**
     * Applies {@code SET 'key' = 'value'} or {@code RESET 'key'} to the environment's
     * configuration, as Flink's SQL client does ({@code TableEnvironment.executeSql} does not take
     * them). Returns false for any other statement.
     */
    public static boolean applySet(TableEnvironment tEnv, String statement) {
        String s = statement.replaceAll("(?s)/\\*.*?\\*/", " ").replaceAll("--[^\n]*", " ").strip();
        java.util.regex.Matcher m = SET.matcher(s);
        if (m.matches()) {
            String key = m.group(1) != null ? m.group(1).replace("''", "'") : m.group(2);
            String value = m.group(3) != null ? m.group(3).replace("''", "'") : m.group(4);
            tEnv.getConfig().getConfiguration().setString(key, value);
            return true;
        }
        m = RESET.matcher(s);
        if (m.matches()) {
            String key = m.group(1) != null ? m.group(1).replace("''", "'") : m.group(2);
            tEnv.getConfig().getConfiguration().removeKey(key);
            return true;
        }
        return false;
    }

    /** The statement's words without comments, upper case, single-spaced. */
    private static String normalized(String statement) {
        String s = statement.replaceAll("(?s)/\\*.*?\\*/", " ").replaceAll("--[^\n]*", " ");
        return s.trim().replaceAll("\\s+", " ").toUpperCase(Locale.ROOT);
    }
}
