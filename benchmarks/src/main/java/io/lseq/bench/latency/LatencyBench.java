package io.lseq.bench.latency;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * End-to-end latency of the scoring job through a real Kafka broker: {@code bin/lseq-bench latency}.
 *
 * <p>For each job configuration (delivery mode and checkpoint interval) it creates fresh topics,
 * starts {@code bin/lseq run} (an embedded MiniCluster, its own process), and for each rate runs a
 * producer process and a consumer process (this class with the {@code producer} and
 * {@code consumer} roles). The producer sends open loop: event i is due at {@code start + i / rate}
 * and carries that due time ({@code System.nanoTime()}, CLOCK_MONOTONIC on Linux, the same clock in
 * every process of the machine) in its {@code id}, which the score copies. The consumer
 * ({@code read_committed}) takes the latency of each score from its event's due time to its
 * arrival, so a producer or job that falls behind is charged for it (no coordinated omission).
 * Rate {@code max} sends a fixed number of events as fast as the producer can, for throughput.
 */
public final class LatencyBench {
    private static final String USAGE = String.join("\n",
            "usage: bin/lseq-bench latency [--bootstrap HOST:PORT] [--configs LIST] [--rates LIST] [--duration S]",
            "                              [--warmup S] [--keys K] [--partitions P] [--max-events N] [--model DIR]",
            "",
            "Produce-to-consume latency (p50, p99, p99.9) and throughput of lseq run through a Kafka broker, with",
            "the producer, the job and a read_committed consumer in separate processes. Start the broker first:",
            "deploy/local/kafka.sh start.",
            "",
            "  --bootstrap HOST:PORT  the broker (default 127.0.0.1:9092)",
            "  --configs LIST         job configurations, DELIVERY:CHECKPOINT_INTERVAL, comma-separated",
            "                         (default at-least-once:10s,exactly-once:500ms)",
            "  --rates LIST           events/s, open loop, or max (default 100,1000,10000,max)",
            "  --duration S           seconds per rate (default 20)",
            "  --warmup S             seconds at 1,000 events/s after the job starts, not reported (default 10)",
            "  --keys K               distinct keys, uniform (default 1000)",
            "  --partitions P         partitions of the input and output topics (default 2)",
            "  --max-events N         events sent for rate max (default 200000)",
            "  --parallelism N        the job's parallelism (default 1)",
            "  --model DIR            model directory (default examples/models/reference-lru)",
            "  --jobmanager HOST:PORT run the job on this Flink cluster (deploy/local/flink.sh) instead of an embedded",
            "                         MiniCluster, and print its checkpoints' duration and size from the REST API",
            "  --job-args ARGS        more options for lseq run, space-separated (e.g. \"--state-backend rocksdb\")",
            "",
            "Roles used by the command itself: producer, consumer.");

    private LatencyBench() {}

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("producer")) {
            produce(args);
            return;
        }
        if (args.length > 0 && args[0].equals("consumer")) {
            consume(args);
            return;
        }
        System.exit(orchestrate(args));
    }

    // --- Orchestrator --------------------------------------------------------------------------------

    private static int orchestrate(String[] args) throws Exception {
        Map<String, String> o = new HashMap<>(Map.of("bootstrap", "127.0.0.1:9092",
                "configs", "at-least-once:10s,exactly-once:500ms", "rates", "100,1000,10000,max", "duration", "20",
                "warmup", "10", "keys", "1000", "partitions", "2", "max-events", "200000", "parallelism", "1"));
        o.putAll(Map.of("model", "examples/models/reference-lru", "jobmanager", "", "job-args", ""));
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--help") || a.equals("-h")) {
                System.out.println(USAGE);
                return 0;
            }
            String name;
            String value;
            if (a.startsWith("--") && a.contains("=")) {
                name = a.substring(2, a.indexOf('='));
                value = a.substring(a.indexOf('=') + 1);
            } else if (a.startsWith("--") && i + 1 < args.length) {
                name = a.substring(2);
                value = args[++i];
            } else {
                System.err.println("lseq-bench latency: unexpected argument " + a + "\n" + USAGE);
                return 2;
            }
            if (!o.containsKey(name)) {
                System.err.println("lseq-bench latency: unknown option --" + name + "\n" + USAGE);
                return 2;
            }
            o.put(name, value);
        }
        Path root = Path.of(System.getProperty("lseq.root", ".")).toAbsolutePath();
        Path model = root.resolve(o.get("model"));
        String bootstrap = o.get("bootstrap");
        int duration = Integer.parseInt(o.get("duration"));
        int warmup = Integer.parseInt(o.get("warmup"));
        int keys = Integer.parseInt(o.get("keys"));
        int partitions = Integer.parseInt(o.get("partitions"));
        long maxEvents = Long.parseLong(o.get("max-events"));
        Path work = Files.createDirectories(root.resolve("benchmarks/target/latency"));
        String run = Long.toString(System.currentTimeMillis() % 100_000_000L, 36);

        System.out.printf("lseq-bench latency, %s; %d cores, Java %s; broker %s; model %s; %,d keys; %d partitions; "
                + "job parallelism %s; %d s per rate after %d s of warm-up%n",
                ZonedDateTime.now().format(DateTimeFormatter.ISO_OFFSET_DATE_TIME),
                Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"), bootstrap,
                root.relativize(model), keys, partitions, o.get("parallelism"), duration, warmup);
        System.out.printf("load average at start: %s%n", loadAverage());
        List<String> rows = new ArrayList<>();
        rows.add(String.format("%-14s %-9s %8s %10s %9s %9s %9s %9s %9s %11s", "delivery", "interval", "rate",
                "sent/s", "scores", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "scores/s"));
        for (String config : o.get("configs").split(",")) {
            String[] dc = config.split(":");
            String delivery = dc[0];
            String interval = dc.length > 1 ? dc[1] : "10s";
            String tag = run + "-" + delivery.replace("-", "") + "-" + interval;
            String in = "lat-in-" + tag;
            String out = "lat-out-" + tag;
            try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
                admin.createTopics(List.of(new NewTopic(in, partitions, (short) 1), new NewTopic(out, partitions, (short) 1)))
                        .all().get(60, TimeUnit.SECONDS);
            }
            List<String> cmd = new ArrayList<>(List.of(root.resolve("bin/lseq").toString(), "run", "--model",
                    model.toString(), "--source", "kafka://" + bootstrap + "/" + in, "--sink",
                    "kafka://" + bootstrap + "/" + out, "--delivery", delivery, "--checkpoint-interval", interval,
                    "--group-id", "lat-" + tag, "--parallelism", o.get("parallelism")));
            if (delivery.equals("exactly-once")) {
                cmd.addAll(List.of("--transactional-id-prefix", "lat-" + tag));
            }
            String jobmanager = o.get("jobmanager");
            if (!jobmanager.isEmpty()) {
                cmd.addAll(List.of("--jobmanager", jobmanager));
            }
            if (!o.get("job-args").isBlank()) {
                cmd.addAll(List.of(o.get("job-args").strip().split("\\s+")));
            }
            Path jobLog = work.resolve("job-" + tag + ".log");
            Path jobOut = work.resolve("job-" + tag + ".out");
            Process job = new ProcessBuilder(cmd).directory(root.toFile()).redirectError(jobLog.toFile())
                    .redirectOutput(jobOut.toFile()).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .start();
            System.out.printf("%n%s, checkpoints every %s: job %s (log %s)%n", delivery, interval, String.join(" ", cmd),
                    root.relativize(jobLog));
            String jobId = null;
            if (!jobmanager.isEmpty()) {
                if (!job.waitFor(120, TimeUnit.SECONDS) || job.exitValue() != 0) {
                    System.out.println("  lseq run failed: see " + jobLog);
                    continue;
                }
                jobId = Files.readString(jobOut).strip();
                System.out.println("  job id " + jobId + " on " + jobmanager);
            }
            try {
                // Warm-up: also waits for the job to start (events wait in the topic meanwhile).
                Phase w = phase(bootstrap, in, out, "w", 1000, warmup, 0, keys, 180);
                System.out.printf("  warm-up: %,d of %,d scores, p50 %.1f ms (job start included)%n", w.count, w.sent,
                        w.p(0.5));
                if (jobId == null && !job.isAlive()) {
                    System.out.println("  the job ended: see " + jobLog);
                    continue;
                }
                for (String rate : o.get("rates").split(",")) {
                    boolean max = rate.equals("max");
                    Phase p = phase(bootstrap, in, out, "r" + rate, max ? 0 : Integer.parseInt(rate), duration,
                            max ? maxEvents : 0, keys, 120);
                    String row = String.format("%-14s %-9s %8s %,10.0f %,9d %9.1f %9.1f %9.1f %9.1f %,11.0f", delivery,
                            interval, rate, p.sentPerSecond, p.count, p.p(0.5), p.p(0.99), p.p(0.999), p.p(1.0),
                            p.scoresPerSecond);
                    System.out.println("  " + row + (p.count < p.sent ? "  (" + (p.sent - p.count) + " missing)" : ""));
                    rows.add(row);
                }
                if (jobId != null) {
                    String cp = checkpoints(jobmanager, jobId);
                    System.out.println("  checkpoints: " + cp);
                    rows.add(String.format("%-14s %-9s checkpoints: %s", delivery, interval, cp));
                }
            } finally {
                if (jobId != null) {
                    rest("PATCH", jobmanager, "/jobs/" + jobId + "?mode=cancel");
                }
                job.descendants().forEach(ProcessHandle::destroy);
                job.destroy();
                if (!job.waitFor(20, TimeUnit.SECONDS)) {
                    job.descendants().forEach(ProcessHandle::destroyForcibly);
                    job.destroyForcibly();
                }
            }
        }
        System.out.printf("%nload average at end: %s%n%n", loadAverage());
        rows.forEach(System.out::println);
        System.out.println("\nlatency: from an event's due time (open loop) to its score's arrival at a read_committed "
                + "consumer; sent/s: the producer's achieved rate; scores/s: scores received over the phase");
        return 0;
    }

    /** Completed checkpoints, and p50 / max of their end-to-end duration and checkpointed size, from the REST API. */
    private static String checkpoints(String jobmanager, String jobId) {
        String body = rest("GET", jobmanager, "/jobs/" + jobId + "/checkpoints");
        java.util.regex.Matcher completed = java.util.regex.Pattern.compile("\"completed\":(\\d+)").matcher(body);
        java.util.regex.Matcher unaligned = java.util.regex.Pattern.compile("\"unaligned_checkpoints\":(true|false)")
                .matcher(rest("GET", jobmanager, "/jobs/" + jobId + "/checkpoints/config"));
        return String.format("%s completed (%s); end-to-end duration %s ms; checkpointed size %s bytes; "
                + "state size %s bytes", completed.find() ? completed.group(1) : "?",
                unaligned.find() ? (unaligned.group(1).equals("true") ? "unaligned" : "aligned") : "?",
                stat(body, "end_to_end_duration"), stat(body, "checkpointed_size"), stat(body, "state_size"));
    }

    private static String stat(String body, String name) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"" + name + "\":\\{([^}]*)\\}").matcher(body);
        if (!m.find()) {
            return "?";
        }
        Map<String, String> v = new HashMap<>();
        for (String kv : m.group(1).split(",")) {
            String[] p = kv.split(":");
            if (p.length == 2) {
                v.put(p[0].replace("\"", ""), p[1]);
            }
        }
        return "p50 " + round(v.get("p50")) + ", p99 " + round(v.get("p99")) + ", max " + round(v.get("max"));
    }

    private static String round(String number) {
        try {
            return String.format("%,.0f", Double.parseDouble(number));
        } catch (RuntimeException e) {
            return "?";
        }
    }

    private static String rest(String method, String hostPort, String path) {
        try {
            java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
            java.net.http.HttpRequest.Builder b = java.net.http.HttpRequest.newBuilder(
                    java.net.URI.create("http://" + hostPort + path)).timeout(Duration.ofSeconds(10));
            b = method.equals("GET") ? b.GET() : b.method(method, java.net.http.HttpRequest.BodyPublishers.noBody());
            return http.send(b.build(), java.net.http.HttpResponse.BodyHandlers.ofString(UTF_8)).body();
        } catch (Exception e) {
            return "";
        }
    }

    private static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).strip();
        } catch (IOException e) {
            return "?";
        }
    }

    /** What one producer/consumer pair measured. */
    record Phase(long sent, long count, double sentPerSecond, double scoresPerSecond, long[] latencies) {
        double p(double q) {
            if (latencies.length == 0) {
                return Double.NaN;
            }
            int i = (int) Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1);
            return latencies[Math.max(0, i)] / 1e6;
        }
    }

    /** Runs a consumer process, then a producer process once the consumer is positioned; returns their results. */
    private static Phase phase(String bootstrap, String in, String out, String tag, int rate, int seconds,
            long events, int keys, int timeoutSeconds) throws Exception {
        Path latFile = Files.createTempFile("lseq-latency-", ".bin");
        Process consumer = role("consumer", bootstrap, out, tag, latFile.toString(), Integer.toString(timeoutSeconds));
        BufferedReader cr = new BufferedReader(new InputStreamReader(consumer.getInputStream(), UTF_8));
        String line;
        while ((line = cr.readLine()) != null && !line.equals("READY")) {
            System.out.println("  consumer: " + line);
        }
        Process producer = role("producer", bootstrap, in, tag, Integer.toString(rate), Integer.toString(seconds),
                Long.toString(events), Integer.toString(keys));
        String sentLine = null;
        try (BufferedReader pr = new BufferedReader(new InputStreamReader(producer.getInputStream(), UTF_8))) {
            while ((line = pr.readLine()) != null) {
                if (line.startsWith("SENT ")) {
                    sentLine = line;
                } else {
                    System.out.println("  producer: " + line);
                }
            }
        }
        producer.waitFor();
        if (sentLine == null) {
            consumer.destroy();
            throw new IllegalStateException("the producer failed");
        }
        String[] s = sentLine.split(" ");
        long sent = Long.parseLong(s[1]);
        double sentPerSecond = sent / (Long.parseLong(s[2]) / 1e9);
        // Tell the consumer how many to wait for.
        consumer.getOutputStream().write((sent + "\n").getBytes(UTF_8));
        consumer.getOutputStream().flush();
        String result = null;
        while ((line = cr.readLine()) != null) {
            if (line.startsWith("RESULT ")) {
                result = line;
            } else {
                System.out.println("  consumer: " + line);
            }
        }
        consumer.waitFor();
        if (result == null) {
            throw new IllegalStateException("the consumer failed");
        }
        String[] r = result.split(" ");
        long count = Long.parseLong(r[1]);
        long first = Long.parseLong(r[2]);
        long last = Long.parseLong(r[3]);
        long[] lat = readLongs(latFile, (int) count);
        Files.deleteIfExists(latFile);
        Arrays.sort(lat);
        double scoresPerSecond = count > 1 && last > first ? (count - 1) / ((last - first) / 1e9) : Double.NaN;
        return new Phase(sent, count, sentPerSecond, scoresPerSecond, lat);
    }

    private static long[] readLongs(Path file, int n) throws IOException {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(Files.readAllBytes(file));
        long[] out = new long[Math.min(n, b.remaining() / 8)];
        for (int i = 0; i < out.length; i++) {
            out[i] = b.getLong();
        }
        return out;
    }

    private static Process role(String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(List.of("-Xmx512m", "-XX:+UseParallelGC", "-cp", System.getProperty("java.class.path"),
                "-Dlog4j.configurationFile=" + System.getProperty("log4j.configurationFile", ""),
                LatencyBench.class.getName()));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    }

    // --- Producer: open loop ----------------------------------------------------------------------

    private static void produce(String[] a) throws Exception {
        String bootstrap = a[1];
        String topic = a[2];
        String tag = a[3];
        int rate = Integer.parseInt(a[4]);
        int seconds = Integer.parseInt(a[5]);
        long events = Long.parseLong(a[6]);
        int keys = Integer.parseInt(a[7]);
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.LINGER_MS_CONFIG, rate == 0 ? "5" : "0");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        long total = rate == 0 ? events : (long) rate * seconds;
        SplittableRandom rnd = new SplittableRandom(tag.hashCode());
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
            producer.partitionsFor(topic); // metadata before the clock starts
            long start = System.nanoTime() + 50_000_000L;
            long periodNanos = rate == 0 ? 0 : 1_000_000_000L / rate;
            for (long i = 0; i < total; i++) {
                long due = rate == 0 ? System.nanoTime() : start + i * 1_000_000_000L / rate;
                if (rate != 0) {
                    long wait;
                    while ((wait = due - System.nanoTime()) > 0) {
                        if (wait > 200_000) {
                            LockSupport.parkNanos(wait - 100_000);
                        } else {
                            Thread.onSpinWait();
                        }
                    }
                }
                String key = "k" + rnd.nextInt(keys);
                String value = "{\"key\":\"" + key + "\",\"token\":" + rnd.nextInt(512) + ",\"id\":\"" + tag + "-" + due
                        + "\"}";
                producer.send(new ProducerRecord<>(topic, key.getBytes(UTF_8), value.getBytes(UTF_8)));
            }
            producer.flush();
            long elapsed = System.nanoTime() - (rate == 0 ? start - 50_000_000L : start);
            System.out.println("SENT " + total + " " + elapsed + " " + periodNanos);
        }
    }

    // --- Consumer: read_committed ---------------------------------------------------------------------

    private static void consume(String[] a) throws Exception {
        String bootstrap = a[1];
        String topic = a[2];
        String prefix = "\"id\":\"" + a[3] + "-";
        Path latFile = Path.of(a[4]);
        int timeoutSeconds = Integer.parseInt(a[5]);
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        long[] lat = new long[1 << 16];
        int n = 0;
        long first = 0;
        long last = 0;
        long expected = Long.MAX_VALUE;
        BufferedReader stdin = new BufferedReader(new InputStreamReader(System.in, UTF_8));
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
            List<TopicPartition> parts = consumer.partitionsFor(topic, Duration.ofSeconds(60)).stream()
                    .map(x -> new TopicPartition(x.topic(), x.partition())).toList();
            consumer.assign(parts);
            consumer.seekToEnd(parts);
            parts.forEach(consumer::position); // resolve the end offsets now
            System.out.println("READY");
            System.out.flush();
            long deadline = Long.MAX_VALUE;
            while (n < expected && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(20))) {
                    long now = System.nanoTime();
                    String v = new String(r.value(), UTF_8);
                    int at = v.indexOf(prefix);
                    if (at < 0) {
                        continue;
                    }
                    int from = at + prefix.length();
                    long due = Long.parseLong(v.substring(from, v.indexOf('"', from)));
                    if (n == lat.length) {
                        lat = Arrays.copyOf(lat, n * 2);
                    }
                    lat[n++] = now - due;
                    if (first == 0) {
                        first = now;
                    }
                    last = now;
                }
                if (expected == Long.MAX_VALUE && stdin.ready()) {
                    expected = Long.parseLong(stdin.readLine().strip());
                    deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
                }
            }
        }
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(n * 8);
        for (int i = 0; i < n; i++) {
            b.putLong(lat[i]);
        }
        Files.write(latFile, b.array());
        System.out.println("RESULT " + n + " " + first + " " + last);
    }
}
