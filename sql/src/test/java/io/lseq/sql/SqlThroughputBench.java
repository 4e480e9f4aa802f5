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
 * Each job runs on N and on 2N events (the first N the same); the second N events' cost is the
 * difference, so job start-up, the SQL job's planning and code generation, and the final
 * checkpoint cancel out. Times are the jobs' net runtimes; CPU is the whole process's CPU time
 * over each run (every thread: source, task, sink, GC, JIT).
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
        Random rnd = new Random(42);
        List<String> lines = new ArrayList<>(2 * events);
        for (int i = 0; i < 2 * events; i++) {
            lines.add(String.format(Locale.ROOT, "{\"key\":\"key-%06d\",\"ts\":%d,\"token\":%d}", rnd.nextInt(keys),
                    1_700_000_000_000L + i, rnd.nextInt(512)));
        }
        Path small = Files.createDirectories(tmp.resolve("in-n"));
        Path large = Files.createDirectories(tmp.resolve("in-2n"));
        Files.write(small.resolve("events.jsonl"), lines.subList(0, events));
        Files.write(large.resolve("events.jsonl"), lines);
        System.out.printf(Locale.ROOT, "events N = %,d and 2N, keys %,d, model reference-lru, parallelism 1, hashmap, "
                + "rounds %d + 1 warm-up%n", events, keys, rounds);
        System.out.println("| round | job | events | s (net runtime) | CPU s |");
        System.out.println("| --- | --- | --- | --- | --- |");
        List<double[]> ratios = new ArrayList<>();
        for (int r = 0; r <= rounds; r++) {
            String round = r == 0 ? "warm-up" : Integer.toString(r);
            double[] ds1 = dataStream(model, small.resolve("events.jsonl"), tmp.resolve("ds-n-" + r));
            double[] sql1 = sql(model, small, tmp.resolve("sql-n-" + r));
            double[] ds2 = dataStream(model, large.resolve("events.jsonl"), tmp.resolve("ds-2n-" + r));
            double[] sql2 = sql(model, large, tmp.resolve("sql-2n-" + r));
            print(round, "DataStream (lseq run)", events, ds1);
            print(round, "SQL (LSEQ_SCORE)", events, sql1);
            print(round, "DataStream (lseq run)", 2 * events, ds2);
            print(round, "SQL (LSEQ_SCORE)", 2 * events, sql2);
            // The second N events alone: start-up, planning and code generation cancel out.
            double dsWall = events / (ds2[0] - ds1[0]);
            double dsCpu = events / (ds2[1] - ds1[1]);
            double sqlWall = events / (sql2[0] - sql1[0]);
            double sqlCpu = events / (sql2[1] - sql1[1]);
            System.out.printf(Locale.ROOT, "round %s, the second N events: DataStream %,.0f events/s, %,.0f events per "
                    + "CPU-second; SQL %,.0f events/s, %,.0f events per CPU-second; SQL / DataStream %.1f%% (events/s), "
                    + "%.1f%% (per CPU-second)%n", round, dsWall, dsCpu, sqlWall, sqlCpu, 100 * sqlWall / dsWall,
                    100 * sqlCpu / dsCpu);
            if (r > 0) {
                ratios.add(new double[] {sqlWall / dsWall, sqlCpu / dsCpu});
            }
        }
        double[] wall = ratios.stream().mapToDouble(x -> x[0]).sorted().toArray();
        double[] cpu = ratios.stream().mapToDouble(x -> x[1]).sorted().toArray();
        System.out.printf(Locale.ROOT, "median SQL / DataStream: %.1f%% events/s, %.1f%% events per CPU-second%n",
                100 * wall[wall.length / 2], 100 * cpu[cpu.length / 2]);
    }

    private static void print(String round, String job, int events, double[] r) {
        System.out.printf(Locale.ROOT, "| %s | %s | %,d | %.2f | %.2f |%n", round, job, events, r[0], r[1]);
    }

    private static long cpu() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    /** Seconds and CPU seconds of lseq run's job. */
    private static double[] dataStream(Path model, Path file, Path out) throws Exception {
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
    private static double[] sql(Path model, Path in, Path out) throws Exception {
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
