package io.lseq.tests.cluster;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.lseq.cli.CliRunner;
import io.lseq.tests.LocalProcesses;
import io.lseq.tests.LocalProcesses.Result;
import io.lseq.tests.kafka.EmbeddedKafka;
import java.io.File;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Flink's Prometheus reporter on the local session cluster ({@code deploy/local/flink.sh}): the
 * scoring job runs from Kafka, and the TaskManager's {@code /metrics} endpoint shows lseq's
 * metrics (records in, rejected, events in, scores out, keys with state, the latency and step
 * histograms) with the counts of what was sent. If Debian's {@code prometheus} server is installed
 * (.ci/run installs it), it scrapes the JobManager and TaskManager with the scrape config of
 * docs/STREAMING.md and its query API answers the same counts.
 */
class PrometheusMetricsTest {
    @RegisterExtension
    static final EmbeddedKafka.PerClass KAFKA = new EmbeddedKafka.PerClass();

    static final String PREFIX = "flink_taskmanager_job_task_operator_lseq_";
    static final Pattern REPORTER_PORT = Pattern.compile("Started PrometheusReporter HTTP server on port (\\d+)");
    static final int EVENTS = 300;
    static final int KEYS = 17;
    static final int REJECTS = 2;

    private static Path repoRoot;
    private static ProcessCluster cluster;
    private static Path runDir;
    private static int restPort;
    private static String promPorts;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @TempDir
    Path tmp;

    @BeforeAll
    static void startCluster() throws Exception {
        repoRoot = LocalProcesses.repoRoot(PrometheusMetricsTest.class);
        // A range from a free port: each process takes the first free one and logs it.
        int first = LocalProcesses.freePort();
        promPorts = first + "-" + (first + 20);
        cluster = ProcessCluster.start(PrometheusMetricsTest.class, "flink-prometheus-", 1, Map.of("FLINK_PROMETHEUS_PORTS", promPorts));
        runDir = cluster.runDir();
        restPort = cluster.restPort();
    }

    @AfterAll
    static void stopCluster() throws Exception {
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    @Timeout(value = 240, unit = TimeUnit.SECONDS)
    void taskManagerEndpointShowsLseqMetrics() throws Exception {
        Path jar = repoRoot.resolve("cli/target/lseq-job.jar");
        assumeTrue(Files.isRegularFile(jar), "the job jar is built by mvn package (mvn verify)");
        long t0 = System.nanoTime();
        EmbeddedKafka kafka = KAFKA.kafka();
        kafka.createTopic("prom-in", 2);
        kafka.createTopic("prom-out", 2);
        kafka.createTopic("prom-dead", 1);
        System.setProperty("lseq.job.jar", jar.toString());
        String job;
        try {
            CliRunner.Result r = CliRunner.run("run", "--jobmanager", "127.0.0.1:" + restPort, "--model",
                    repoRoot.resolve("examples/models/reference-lru").toString(),
                    "--source", "kafka://" + kafka.bootstrapServers() + "/prom-in",
                    "--sink", "kafka://" + kafka.bootstrapServers() + "/prom-out",
                    "--dead-letter", "kafka://" + kafka.bootstrapServers() + "/prom-dead",
                    "--delivery", "at-least-once", "--parallelism", "2", "--group-id", "prom");
            assertEquals(0, r.status(), r.err());
            job = r.out().strip();
        } finally {
            System.clearProperty("lseq.job.jar");
        }
        List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
        for (int i = 0; i < EVENTS; i++) {
            String key = "k" + (i % KEYS);
            records.add(new ProducerRecord<>("prom-in", key.getBytes(UTF_8),
                    ("{\"key\":\"" + key + "\",\"token\":" + (i * 7 % 512) + "}").getBytes(UTF_8)));
        }
        records.add(new ProducerRecord<>("prom-in", null, "not json".getBytes(UTF_8)));
        records.add(new ProducerRecord<>("prom-in", null, "{\"key\":\"x\",\"token\":9999}".getBytes(UTF_8)));
        kafka.produce("prom-in", records);
        assertEquals(EVENTS, kafka.consumeAll("prom-out", false, EVENTS, Duration.ofSeconds(120)).size());

        int tmPort = reporterPort("taskmanager-1.log");
        int jmPort = reporterPort("jobmanager.log");
        Map<String, Double> sums = Map.of();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        String text = "";
        while (System.nanoTime() < deadline) {
            text = get("http://127.0.0.1:" + tmPort + "/metrics").body();
            sums = sums(text);
            if (sums.getOrDefault("scoresOut", 0.0) >= EVENTS && sums.getOrDefault("recordsRejected", 0.0) >= REJECTS) {
                break;
            }
            Thread.sleep(500);
        }
        assertEquals(EVENTS + REJECTS, sums.get("recordsIn"), "recordsIn: " + sums);
        assertEquals(REJECTS, sums.get("recordsRejected"), "recordsRejected: " + sums);
        assertEquals(EVENTS, sums.get("eventsIn"), "eventsIn: " + sums);
        assertEquals(EVENTS, sums.get("scoresOut"), "scoresOut: " + sums);
        assertEquals(KEYS, sums.get("keysWithState"), "keysWithState: " + sums);
        assertEquals(EVENTS, sums.get("latencyNanos_count"), "latencyNanos_count: " + sums);
        assertEquals(EVENTS, sums.get("stepTimeNanos_count"), "stepTimeNanos_count: " + sums);
        for (String q : List.of("0.5", "0.99", "0.999")) {
            assertTrue(Pattern.compile("(?m)^" + PREFIX + "latencyNanos\\{[^}]*quantile=\"" + q + "\"[^}]*\\} [0-9.eE+]+$")
                    .matcher(text).find(), "latencyNanos quantile " + q);
        }
        // The labels a dashboard groups by.
        Matcher line = Pattern.compile("(?m)^" + PREFIX + "eventsIn\\{([^}]*)\\}").matcher(text);
        assertTrue(line.find());
        for (String label : List.of("job_name=\"lseq_reference_lru\"", "job_id=\"" + job + "\"", "subtask_index=",
                "operator_name=\"score_")) {
            assertTrue(line.group(1).contains(label), label + " in " + line.group(1));
        }
        String jmText = get("http://127.0.0.1:" + jmPort + "/metrics").body();
        assertTrue(jmText.contains("flink_jobmanager_numRunningJobs"), "the JobManager's endpoint");
        assertTrue(jmText.contains("flink_jobmanager_job_lastCheckpointDuration"), "checkpoint metrics");
        long scrapedMs = (System.nanoTime() - t0) / 1_000_000;

        String server = prometheusServer();
        if (server == null) {
            System.out.println("PrometheusMetricsTest: no prometheus server on PATH (apt-get install prometheus); "
                    + "scraped the endpoints directly only");
        } else {
            long p0 = System.nanoTime();
            Map<String, Double> viaServer = scrapeWithPrometheus(server, jmPort, tmPort);
            assertEquals(EVENTS, viaServer.get("eventsIn"), "sum(eventsIn) through prometheus: " + viaServer);
            assertEquals(KEYS, viaServer.get("keysWithState"), "sum(keysWithState) through prometheus: " + viaServer);
            assertEquals(REJECTS, viaServer.get("recordsRejected"), "through prometheus: " + viaServer);
            assertEquals(EVENTS, viaServer.get("scoresOut"), "through prometheus: " + viaServer);
            System.out.printf("PrometheusMetricsTest: %s scraped JobManager :%d and TaskManager :%d; its query API "
                    + "gave %s in %d ms%n", server, jmPort, tmPort, viaServer, (System.nanoTime() - p0) / 1_000_000);
        }
        cancel(job);
        System.out.printf("PrometheusMetricsTest: TaskManager /metrics on port %d (JobManager %d): %s; job to "
                + "metrics checked in %d ms%n", tmPort, jmPort, sums, scrapedMs);
    }

    /** Sums of each lseq metric over its operators' subtasks (histograms: the _count line). */
    static Map<String, Double> sums(String text) {
        Map<String, Double> sums = new HashMap<>();
        Matcher m = Pattern.compile("(?m)^" + PREFIX + "(\\w+)\\{([^}]*)\\} (\\S+)$").matcher(text);
        while (m.find()) {
            if (m.group(2).contains("quantile=")) {
                continue;
            }
            sums.merge(m.group(1), Double.parseDouble(m.group(3)), Double::sum);
        }
        return sums;
    }

    /**
     * Runs the prometheus server on the two endpoints (scrape every second) until its query API
     * answers {@code sum(...)} of lseq's metrics with the counts sent; returns the last answers.
     */
    private Map<String, Double> scrapeWithPrometheus(String server, int jmPort, int tmPort) throws Exception {
        int webPort = LocalProcesses.freePort();
        Path dir = Files.createDirectories(tmp.resolve("prometheus"));
        Path config = Files.writeString(dir.resolve("prometheus.yml"), String.join("\n",
                "global:",
                "  scrape_interval: 1s",
                "scrape_configs:",
                "  - job_name: flink",
                "    static_configs:",
                "      - targets: ['127.0.0.1:" + jmPort + "', '127.0.0.1:" + tmPort + "']",
                ""));
        Process p = new ProcessBuilder(server, "--config.file=" + config, "--storage.tsdb.path=" + dir.resolve("data"),
                "--web.listen-address=127.0.0.1:" + webPort)
                .redirectErrorStream(true).redirectOutput(dir.resolve("prometheus.log").toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        try {
            Map<String, Double> got = new HashMap<>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (System.nanoTime() < deadline) {
                assertTrue(p.isAlive(), () -> "prometheus exited: " + readQuietly(dir.resolve("prometheus.log")));
                got.clear();
                for (String name : List.of("eventsIn", "keysWithState", "recordsRejected", "scoresOut")) {
                    Double v = query(webPort, "sum(" + PREFIX + name + ")");
                    if (v != null) {
                        got.put(name, v);
                    }
                }
                if (got.getOrDefault("eventsIn", 0.0) >= EVENTS && got.size() == 4) {
                    Double p99 = query(webPort, "max(" + PREFIX + "latencyNanos{quantile=\"0.99\"})");
                    assertTrue(p99 != null && p99 > 0, "latencyNanos p99 through prometheus: " + p99);
                    got.put("latencyNanos_p99", p99);
                    return got;
                }
                Thread.sleep(500);
            }
            return got;
        } finally {
            p.destroy();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        }
    }

    /** The value of an instant query answered with one sample, or null. */
    private Double query(int webPort, String promql) {
        try {
            String body = get("http://127.0.0.1:" + webPort + "/api/v1/query?query="
                    + URLEncoder.encode(promql, UTF_8)).body();
            Matcher m = Pattern.compile("\"value\":\\[[0-9.]+,\"([^\"]+)\"\\]").matcher(body);
            return m.find() ? Double.parseDouble(m.group(1)) : null;
        } catch (Exception e) {
            return null; // not up yet
        }
    }

    private static String prometheusServer() {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(File.pathSeparator)) {
            File f = new File(dir, "prometheus");
            if (f.canExecute()) {
                return f.getPath();
            }
        }
        return null;
    }

    private static String readQuietly(Path p) {
        try {
            return Files.readString(p, UTF_8);
        } catch (Exception e) {
            return "";
        }
    }

    /** The port a process's reporter took, from its log. */
    private static int reporterPort(String log) throws Exception {
        Path file = runDir.resolve("log").resolve(log);
        TreeSet<Integer> ports = new TreeSet<>();
        Matcher m = REPORTER_PORT.matcher(Files.readString(file, java.nio.charset.StandardCharsets.ISO_8859_1));
        while (m.find()) {
            ports.add(Integer.parseInt(m.group(1)));
        }
        assertFalse(ports.isEmpty(), "no PrometheusReporter port in " + file + " (range " + promPorts + ")");
        return ports.last();
    }

    private void cancel(String id) throws Exception {
        http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + restPort + "/jobs/" + id + "?mode=cancel"))
                .method("PATCH", HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.discarding());
    }

    private HttpResponse<String> get(String url) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).GET().build(),
                HttpResponse.BodyHandlers.ofString(UTF_8));
    }

    private static Result flink(String... args) throws Exception {
        return cluster.flink(args);
    }

}
