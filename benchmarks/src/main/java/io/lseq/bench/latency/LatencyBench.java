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
            "  --warmup S             seconds of warm-up after the job starts, not reported (default 10)",
            "  --warmup-rate R        events/s of the warm-up (default 1000); the JIT of the job, the broker and the",
            "                         clients settles sooner at a higher rate",
            "  --keys K               distinct keys, uniform (default 1000)",
            "  --partitions P         partitions of the input and output topics (default 2)",
            "  --max-events N         events sent for rate max (default 200000)",
            "  --parallelism N        the job's parallelism (default 1)",
            "  --model DIR            model directory (default examples/models/reference-lru)",
            "  --jobmanager HOST:PORT run the job on this Flink cluster (deploy/local/flink.sh) instead of an embedded",
            "                         MiniCluster, and print its checkpoints' duration and size from the REST API",
            "  --job-args ARGS        more options for lseq run, space-separated (e.g. \"--state-backend rocksdb\")",
            "",
            "Each phase's scores go to benchmarks/target/latency/timeline-*.csv (due time in epoch ms, latency in ms),",
            "and the three worst 100 ms windows are printed, to line up with GC logs (LSEQ_JAVA_OPTS=-Xlog:gc...).",
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
                "warmup", "10", "warmup-rate", "1000", "keys", "1000", "partitions", "2", "max-events", "200000",
                "parallelism", "1"));
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
                + "job parallelism %s; %d s per rate after %d s of warm-up at %s events/s%n",
                ZonedDateTime.now().format(DateTimeFormatter.ISO_OFFSET_DATE_TIME),
                Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"), bootstrap,
                root.relativize(model), keys, partitions, o.get("parallelism"), duration, warmup, o.get("warmup-rate"));
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
            try (Clients clients = new Clients(bootstrap, in, out)) {
                // Warm-up: also waits for the job to start (events wait in the topic meanwhile), and
                // warms the producer's and consumer's JVMs, which every later phase reuses.
                Phase w = clients.phase("w", Integer.parseInt(o.get("warmup-rate")), warmup, 0, keys, 180,
                        work.resolve("timeline-" + tag + "-warmup.csv"));
                System.out.printf("  warm-up: %,d of %,d scores, p50 %.1f ms (job start included)%n", w.count, w.sent,
                        w.p(0.5));
                if (jobId == null && !job.isAlive()) {
                    System.out.println("  the job ended: see " + jobLog);
                    continue;
                }
                for (String rate : o.get("rates").split(",")) {
                    boolean max = rate.equals("max");
                    Phase p = clients.phase("r" + rate, max ? 0 : Integer.parseInt(rate), duration, max ? maxEvents : 0,
                            keys, 120, work.resolve("timeline-" + tag + "-" + rate + ".csv"));
                    String row = String.format("%-14s %-9s %8s %,10.0f %,9d %9.1f %9.1f %9.1f %9.1f %,11.0f", delivery,
                            interval, rate, p.sentPerSecond, p.count, p.p(0.5), p.p(0.99), p.p(0.999), p.p(1.0),
                            p.scoresPerSecond);
                    System.out.println("  " + row + (p.count < p.sent ? "  (" + (p.sent - p.count) + " missing)" : ""));
                    rows.add(row);
                    System.out.println("    worst 100 ms windows (UTC): " + p.worst());
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
    record Phase(long sent, long count, double sentPerSecond, double scoresPerSecond, long[] latencies, String worst) {
        double p(double q) {
            if (latencies.length == 0) {
                return Double.NaN;
            }
            int i = (int) Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1);
            return latencies[Math.max(0, i)] / 1e6;
        }
    }

    /**
     * The producer and the read_committed consumer, each in its own JVM, kept for every phase of one
     * job configuration so that the warm-up phase warms them too. They take one command per phase on
     * stdin and answer one line.
     */
    private static final class Clients implements AutoCloseable {
        private final Process consumer;
        private final Process producer;
        private final BufferedReader fromConsumer;
        private final BufferedReader fromProducer;

        Clients(String bootstrap, String in, String out) throws IOException {
            consumer = role("consumer", bootstrap, out);
            fromConsumer = new BufferedReader(new InputStreamReader(consumer.getInputStream(), UTF_8));
            answer(fromConsumer, "READY", "consumer");
            producer = role("producer", bootstrap, in);
            fromProducer = new BufferedReader(new InputStreamReader(producer.getInputStream(), UTF_8));
            answer(fromProducer, "READY", "producer");
        }

        /** Runs one phase: the consumer records {@code tag}'s scores while the producer sends them. */
        Phase phase(String tag, int rate, int seconds, long events, int keys, int timeoutSeconds, Path timeline)
                throws Exception {
            Path latFile = Files.createTempFile("lseq-latency-", ".bin");
            tell(consumer, "BEGIN " + tag + " " + latFile + " " + timeoutSeconds);
            answer(fromConsumer, "BEGUN", "consumer");
            tell(producer, "RUN " + tag + " " + rate + " " + seconds + " " + events + " " + keys);
            String[] s = answer(fromProducer, "SENT", "producer").split(" ");
            long sent = Long.parseLong(s[1]);
            double sentPerSecond = sent / (Long.parseLong(s[2]) / 1e9);
            tell(consumer, "EXPECT " + sent); // then it waits for that many, or the timeout
            String[] r = answer(fromConsumer, "RESULT", "consumer").split(" ");
            long count = Long.parseLong(r[1]);
            long first = Long.parseLong(r[2]);
            long last = Long.parseLong(r[3]);
            long[] pairs = readLongs(latFile, 1 + 2 * (int) count);
            Files.deleteIfExists(latFile);
            long[] lat = new long[(pairs.length - 1) / 2];
            for (int i = 0; i < lat.length; i++) {
                lat[i] = pairs[2 + 2 * i];
            }
            String worst = timeline(timeline, pairs);
            Arrays.sort(lat);
            double scoresPerSecond = count > 1 && last > first ? (count - 1) / ((last - first) / 1e9) : Double.NaN;
            return new Phase(sent, count, sentPerSecond, scoresPerSecond, lat, worst);
        }

        private static void tell(Process p, String line) throws IOException {
            p.getOutputStream().write((line + "\n").getBytes(UTF_8));
            p.getOutputStream().flush();
        }

        /** The first line starting with {@code word}; other lines are echoed. */
        private static String answer(BufferedReader from, String word, String who) throws IOException {
            String line;
            while ((line = from.readLine()) != null) {
                if (line.startsWith(word)) {
                    return line;
                }
                System.out.println("  " + who + ": " + line);
            }
            throw new IllegalStateException("the " + who + " ended before answering " + word);
        }

        @Override
        public void close() throws InterruptedException {
            for (Process p : List.of(producer, consumer)) {
                p.destroy();
                if (!p.waitFor(10, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                }
            }
        }
    }

    /**
     * Writes the phase's timeline ({@code due,latency}: the due time as wall-clock milliseconds since the epoch, to
     * line up with GC logs and Flink's log, and the latency in ms) and returns the three worst 100 ms windows by their
     * largest latency: where a tail comes from is usually a few stalls, not a spread.
     */
    private static final DateTimeFormatter WINDOW = DateTimeFormatter.ofPattern("HH:mm:ss.S").withZone(
            java.time.ZoneOffset.UTC);

    private static String timeline(Path file, long[] pairs) throws IOException {
        long wallOfNano = pairs[0];
        int n = (pairs.length - 1) / 2;
        StringBuilder csv = new StringBuilder("due_epoch_ms,latency_ms\n");
        Map<Long, Long> worstByWindow = new HashMap<>();
        for (int i = 0; i < n; i++) {
            long due = pairs[1 + 2 * i];
            long lat = pairs[2 + 2 * i];
            long wallMs = (wallOfNano + due) / 1_000_000L;
            csv.append(wallMs).append(',').append(String.format("%.3f", lat / 1e6)).append('\n');
            worstByWindow.merge(wallMs / 100, lat, Math::max);
        }
        Files.writeString(file, csv);
        return worstByWindow.entrySet().stream().sorted(Map.Entry.<Long, Long>comparingByValue().reversed()).limit(3)
                .map(e -> String.format("%s %.0f ms", WINDOW.format(java.time.Instant.ofEpochMilli(e.getKey() * 100)),
                        e.getValue() / 1e6))
                .reduce((x, y) -> x + ", " + y).orElse("-");
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
        // Their GC pauses are part of what the bench measures: logged beside the timelines.
        Path gcLog = Path.of(System.getProperty("lseq.root", ".")).toAbsolutePath()
                .resolve("benchmarks/target/latency/gc-" + args[0] + "-%p.log");
        // A tuned client, as a user would run one that cares for milliseconds: a fixed, pre-touched heap, young
        // collections only (both allocate little that lives), and a Metaspace that does not start with a full GC.
        cmd.addAll(List.of("-Xms256m", "-Xmx256m", "-XX:+AlwaysPreTouch", "-XX:+UseSerialGC", "-XX:MetaspaceSize=128m",
                "-Xlog:gc:file=" + gcLog + ":time", "-cp",
                System.getProperty("java.class.path"),
                "-Dlog4j.configurationFile=" + System.getProperty("log4j.configurationFile", ""),
                LatencyBench.class.getName()));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    }

    // --- Producer: open loop ----------------------------------------------------------------------

    /** Commands on stdin: {@code RUN TAG RATE SECONDS EVENTS KEYS}; answers {@code SENT N ELAPSED_NANOS PERIOD}. */
    private static void produce(String[] a) throws Exception {
        String bootstrap = a[1];
        String topic = a[2];
        KafkaProducer<byte[], byte[]> paced = producer(bootstrap, 0);
        KafkaProducer<byte[], byte[]> flat = null; // for rate max: batches, created when first asked for
        paced.partitionsFor(topic); // metadata before any clock starts
        BufferedReader stdin = new BufferedReader(new InputStreamReader(System.in, UTF_8));
        System.out.println("READY");
        System.out.flush();
        String line;
        while ((line = stdin.readLine()) != null) {
            String[] c = line.split(" ");
            String tag = c[1];
            int rate = Integer.parseInt(c[2]);
            int seconds = Integer.parseInt(c[3]);
            long events = Long.parseLong(c[4]);
            int keys = Integer.parseInt(c[5]);
            if (rate == 0 && flat == null) {
                flat = producer(bootstrap, 5);
                flat.partitionsFor(topic);
            }
            KafkaProducer<byte[], byte[]> producer = rate == 0 ? flat : paced;
            long total = rate == 0 ? events : (long) rate * seconds;
            SplittableRandom rnd = new SplittableRandom(tag.hashCode());
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
            System.out.flush();
        }
        paced.close();
        if (flat != null) {
            flat.close();
        }
    }

    private static KafkaProducer<byte[], byte[]> producer(String bootstrap, int lingerMs) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.LINGER_MS_CONFIG, Integer.toString(lingerMs));
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        return new KafkaProducer<>(p);
    }

    // --- Consumer: read_committed ---------------------------------------------------------------------

    /**
     * Polls all the time; commands on stdin: {@code BEGIN TAG FILE TIMEOUT_S} starts recording that tag's
     * scores (answers {@code BEGUN}), {@code EXPECT N} ends the phase once N are in or the timeout has
     * passed, writes the file and answers {@code RESULT COUNT FIRST_NANOS LAST_NANOS}.
     */
    private static void consume(String[] a) throws Exception {
        String bootstrap = a[1];
        String topic = a[2];
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        long[] lat = new long[1 << 16];
        long[] dues = new long[1 << 16];
        BufferedReader stdin = new BufferedReader(new InputStreamReader(System.in, UTF_8));
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
            List<TopicPartition> parts = consumer.partitionsFor(topic, Duration.ofSeconds(60)).stream()
                    .map(x -> new TopicPartition(x.topic(), x.partition())).toList();
            consumer.assign(parts);
            consumer.seekToEnd(parts);
            parts.forEach(consumer::position); // resolve the end offsets now
            System.out.println("READY");
            System.out.flush();
            byte[] prefix = null;
            Path latFile = null;
            int timeoutSeconds = 0;
            int n = 0;
            long first = 0;
            long last = 0;
            long expected = Long.MAX_VALUE;
            long deadline = Long.MAX_VALUE;
            while (true) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(20))) {
                    long now = System.nanoTime();
                    int from = prefix == null ? -1 : indexOf(r.value(), prefix);
                    if (from < 0) {
                        continue;
                    }
                    long due = 0;
                    for (byte[] v = r.value(); from < v.length && v[from] != '"'; from++) {
                        due = due * 10 + (v[from] - '0');
                    }
                    if (n == lat.length) {
                        lat = Arrays.copyOf(lat, n * 2);
                        dues = Arrays.copyOf(dues, n * 2);
                    }
                    dues[n] = due;
                    lat[n++] = now - due;
                    if (first == 0) {
                        first = now;
                    }
                    last = now;
                }
                if (prefix != null && (n >= expected || System.nanoTime() > deadline)) {
                    // Pairs (due, latency), and the wall clock of nanoTime 0, so that a timeline lines up with GC logs.
                    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(8 + n * 16);
                    b.putLong(System.currentTimeMillis() * 1_000_000L - System.nanoTime());
                    for (int i = 0; i < n; i++) {
                        b.putLong(dues[i]).putLong(lat[i]);
                    }
                    Files.write(latFile, b.array());
                    System.out.println("RESULT " + n + " " + first + " " + last);
                    System.out.flush();
                    prefix = null;
                }
                if (stdin.ready()) {
                    String[] c = stdin.readLine().strip().split(" ");
                    if (c[0].equals("BEGIN")) {
                        prefix = ("\"id\":\"" + c[1] + "-").getBytes(UTF_8);
                        latFile = Path.of(c[2]);
                        timeoutSeconds = Integer.parseInt(c[3]);
                        n = 0;
                        first = 0;
                        last = 0;
                        expected = Long.MAX_VALUE;
                        deadline = Long.MAX_VALUE;
                        System.out.println("BEGUN");
                        System.out.flush();
                    } else if (c[0].equals("EXPECT")) {
                        expected = Long.parseLong(c[1]);
                        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
                    }
                }
            }
        }
    }

    /** Where {@code what} ends in {@code in}, or -1. */
    private static int indexOf(byte[] in, byte[] what) {
        outer:
        for (int i = 0; i + what.length <= in.length; i++) {
            for (int j = 0; j < what.length; j++) {
                if (in[i + j] != what[j]) {
                    continue outer;
                }
            }
            return i + what.length;
        }
        return -1;
    }
}
