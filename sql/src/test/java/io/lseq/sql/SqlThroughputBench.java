package io.lseq.sql;

import io.lseq.connectors.Endpoint;
import io.lseq.flink.job.JobOptions;
import io.lseq.flink.job.ScoringJob;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.table.api.TableResult;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Not a test (outside surefire's default *Test pattern): the SQL job against the DataStream job
 * on the same events, interleaved in one JVM, each on its own local MiniCluster at parallelism 1.
 * Both read the same JSON Lines file and write JSON part files: {@code lseq run}'s job
 * (file source, EventParser, ScoringOperator, file sink) against {@code lseq sql}'s
 * (filesystem/json, LSEQ_SCORE, filesystem/json). Run:
 *
 * <pre>{@code mvn -o verify -pl sql -Dtest=SqlThroughputBench -Dsurefire.failIfNoSpecifiedTests=false \
 *     -Dlseq.bench.events=100000 -Dlseq.bench.rounds=3}</pre>
 *
 * Times are the jobs' net runtimes (submission to end, start-up included, the same for both);
 * CPU is the whole process's CPU time over each run.
 */
class SqlThroughputBench {
    @TempDir
    Path tmp;

    @Test
    void sqlAgainstDataStream() throws Exception {
        int events = Integer.getInteger("lseq.bench.events", 100_000);
        int rounds = Integer.getInteger("lseq.bench.rounds", 3);
        int keys = Integer.getInteger("lseq.bench.keys", 1000);
        Path model = SqlTesting.model("reference-lru");
        Path in = Files.createDirectories(tmp.resolve("in"));
        Random rnd = new Random(42);
        List<String> lines = new ArrayList<>(events);
        for (int i = 0; i < events; i++) {
            lines.add(String.format(Locale.ROOT, "{\"key\":\"key-%06d\",\"ts\":%d,\"token\":%d}", rnd.nextInt(keys),
                    1_700_000_000_000L + i, rnd.nextInt(512)));
        }
        Path file = in.resolve("events.jsonl");
        Files.write(file, lines);
        System.out.printf(Locale.ROOT, "events %,d, keys %,d, model reference-lru, parallelism 1, hashmap, rounds %d + 1 warm-up%n",
                events, keys, rounds);
        System.out.println("| round | job | s (net runtime) | events/s | CPU s | events per CPU-second |");
        System.out.println("| --- | --- | --- | --- | --- | --- |");
        List<double[]> ratios = new ArrayList<>();
        for (int r = 0; r <= rounds; r++) {
            double[] ds = dataStream(model, file, tmp.resolve("ds-" + r), events);
            double[] sql = sql(model, in, tmp.resolve("sql-" + r), events);
            String round = r == 0 ? "warm-up" : Integer.toString(r);
            print(round, "DataStream (lseq run)", ds, events);
            print(round, "SQL (LSEQ_SCORE)", sql, events);
            if (r > 0) {
                ratios.add(new double[] {ds[0] / sql[0], ds[1] / sql[1]});
            }
        }
        for (int i = 0; i < ratios.size(); i++) {
            System.out.printf(Locale.ROOT, "round %d: SQL / DataStream events/s %.1f%%, events per CPU-second %.1f%%%n",
                    i + 1, 100 * ratios.get(i)[0], 100 * ratios.get(i)[1]);
        }
    }

    private static void print(String round, String job, double[] r, int events) {
        System.out.printf(Locale.ROOT, "| %s | %s | %.2f | %,.0f | %.2f | %,.0f |%n", round, job, r[0], events / r[0], r[1],
                events / r[1]);
    }

    private static long cpu() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    /** Seconds and CPU seconds of lseq run's job. */
    private static double[] dataStream(Path model, Path file, Path out, int events) throws Exception {
        JobOptions o = new JobOptions();
        o.model = model;
        o.source = Endpoint.parse("--source", "file:" + file);
        o.sink = Endpoint.parse("--sink", "file:" + out);
        o.deadLetter = Endpoint.parse("--dead-letter", "file:" + out + "-dead");
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(ScoringJob.configuration(o));
        ScoringJob.build(env, o);
        long c0 = cpu();
        JobExecutionResult r = env.execute("bench-datastream");
        return new double[] {r.getNetRuntime() / 1000.0, (cpu() - c0) / 1e9};
    }

    /** Seconds and CPU seconds of the same through LSEQ_SCORE. */
    private static double[] sql(Path model, Path in, Path out, int events) throws Exception {
        Configuration conf = new Configuration();
        conf.setString("parallelism.default", "1");
        conf.setString("execution.checkpointing.interval", "10 s");
        conf.setString("state.backend.type", "hashmap");
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(conf);
        TableEnvironment t = SqlScript.environment(env, conf);
        t.executeSql("CREATE TABLE events (`key` STRING, ts BIGINT, token INT) WITH ('connector' = 'filesystem', "
                + "'path' = '" + in.toUri() + "', 'format' = 'json')");
        t.executeSql("CREATE TABLE scores (`key` STRING, seq BIGINT, score DOUBLE, ts BIGINT, error STRING) WITH ("
                + "'connector' = 'filesystem', 'path' = '" + out.toUri() + "', 'format' = 'json')");
        long c0 = cpu();
        TableResult r = t.executeSql("INSERT INTO scores SELECT * FROM LSEQ_SCORE(input => TABLE events PARTITION BY `key`, "
                + "model => '" + model + "')");
        JobExecutionResult res = r.getJobClient().orElseThrow().getJobExecutionResult().get();
        return new double[] {res.getNetRuntime() / 1000.0, (cpu() - c0) / 1e9};
    }
}
