package io.lseq.tests.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.lseq.cli.StreamingJobMain;
import io.lseq.core.testing.TestModels;
import io.lseq.flink.job.JobOptions;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The Kubernetes manifest and Dockerfile point at what the build really produces: the job jar's
 * name and place, its entry class, arguments its parser accepts, the model path in the image.
 */
class KubernetesManifestTest {
    static final Path ROOT = TestModels.repoRoot();
    static final Path K8S = ROOT.resolve("deploy/kubernetes");

    private static JsonNode deployment() throws Exception {
        try (MappingIterator<JsonNode> docs = new YAMLMapper().readerFor(JsonNode.class)
                .readValues(K8S.resolve("flink-deployment.yaml").toFile())) {
            for (JsonNode d : docs.readAll()) {
                if ("FlinkDeployment".equals(d.path("kind").asText())) {
                    return d;
                }
            }
        }
        throw new AssertionError("no FlinkDeployment in flink-deployment.yaml");
    }

    @Test
    void namesTheRealEntryClassAndValidArguments() throws Exception {
        JsonNode d = deployment();
        assertEquals("flink.apache.org/v1beta1", d.path("apiVersion").asText());
        JsonNode job = d.path("spec").path("job");
        Class<?> entry = Class.forName(job.path("entryClass").asText());
        Method main = entry.getMethod("main", String[].class);
        assertTrue(Modifier.isStatic(main.getModifiers()));

        List<String> args = new ArrayList<>();
        job.path("args").forEach(a -> args.add(a.asText()));
        JobOptions o = StreamingJobMain.options(args.toArray(new String[0])); // throws unless the arguments parse
        assertTrue(o.source.kafka() && o.sink.kafka() && o.deadLetter.kafka(), "Kafka in and out");
        assertEquals("savepoint", job.path("upgradeMode").asText());
        assertTrue(job.path("initialSavepointPath").asText().startsWith("file:///"), "takes a backfill's savepoint");

        String dockerfile = Files.readString(K8S.resolve("Dockerfile"));
        String jar = job.path("jarURI").asText();
        assertTrue(jar.startsWith("local://"), jar);
        assertTrue(dockerfile.contains("COPY cli/target/lseq-job.jar " + jar.substring("local://".length())),
                "the image puts the job jar where jarURI says");
        assertTrue(dockerfile.contains(" " + o.model), "the image holds the model at " + o.model);
        assertTrue(Files.readString(ROOT.resolve("cli/pom.xml")).contains("<finalName>lseq-job</finalName>"),
                "the build produces lseq-job.jar");
    }

    @Test
    void configuresHighAvailabilityAndPrometheus() throws Exception {
        JsonNode spec = deployment().path("spec");
        JsonNode conf = spec.path("flinkConfiguration");
        assertTrue(spec.path("jobManager").path("replicas").asInt(1) >= 2, "a standby JobManager");
        assertEquals("kubernetes", conf.path("high-availability.type").asText(), "replicas > 1 need HA");
        assertTrue(conf.path("high-availability.storageDir").asText().startsWith("file:///flink-data/"),
                "HA metadata on the shared volume");
        assertEquals("org.apache.flink.metrics.prometheus.PrometheusReporterFactory",
                conf.path("metrics.reporter.prom.factory.class").asText());
        String port = conf.path("metrics.reporter.prom.port").asText();
        JsonNode pod = spec.path("podTemplate");
        assertEquals(port, pod.path("metadata").path("annotations").path("prometheus.io/port").asText());
        assertEquals(port, pod.path("spec").path("containers").get(0).path("ports").get(0).path("containerPort").asText());
        // The same reporter as the local cluster (deploy/local/conf/config.yaml).
        assertTrue(Files.readString(ROOT.resolve("deploy/local/conf/config.yaml"))
                .contains("metrics.reporter.prom.factory.class: " + conf.path("metrics.reporter.prom.factory.class").asText()));
        assertTrue(Files.readString(K8S.resolve("flink-deployment.yaml")).contains("operator 1.15 or later"),
                "says which operator runs Flink 2.2");
    }

    @Test
    void imageAndOperatorUseTheBuildsFlinkVersion() throws Exception {
        String pom = Files.readString(ROOT.resolve("pom.xml"));
        String flink = pom.replaceAll("(?s).*<flink.version>([^<]+)</flink.version>.*", "$1");
        String dockerfile = Files.readString(K8S.resolve("Dockerfile"));
        assertTrue(dockerfile.contains("FROM flink:" + flink + "-java17"), "image of Flink " + flink);
        String[] v = flink.split("\\.");
        assertEquals("v" + v[0] + "_" + v[1], deployment().path("spec").path("flinkVersion").asText());
    }
}
