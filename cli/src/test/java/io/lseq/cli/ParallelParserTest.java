package io.lseq.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.lseq.connectors.event.Event;
import io.lseq.connectors.event.EventParser;
import io.lseq.core.format.ModelConfig;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ParallelParserTest {
    private static final ModelConfig.Input TOKENS = new ModelConfig.Input(true, 50, -1, 0);

    /**
     * Over several chunks, with bad records spread through them: the good events reach the sink
     * in input order, and the dead letters come out in input order too, each with its line, as
     * one thread parsing would give them.
     */
    @Test
    void eventsAndDeadLettersKeepTheInputOrder() throws Exception {
        int n = 3 * ParallelParser.CHUNK_RECORDS + 123;
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            lines.add(i % 997 == 5 ? "{\"key\":\"k" + i + "\",\"token\":99}" // out of the vocabulary
                    : i % 1201 == 7 ? "not json " + i
                    : "{\"key\":\"k" + (i % 13) + "\",\"token\":" + (i % 50) + ",\"ts\":" + i + "}");
        }
        for (int threads : new int[] {1, 3}) {
            ByteArrayOutputStream dead = new ByteArrayOutputStream();
            List<Event> got = new ArrayList<>();
            try (ParallelParser p = new ParallelParser(TOKENS, threads, dead, "in.jsonl", got::add)) {
                for (int i = 0; i < n; i++) {
                    byte[] b = lines.get(i).getBytes(StandardCharsets.UTF_8);
                    p.add(b, b.length, b.length, null, i + 1, null);
                }
                p.finish();
                EventParser one = new EventParser(TOKENS);
                List<Long> badLines = new ArrayList<>();
                int k = 0;
                for (int i = 0; i < n; i++) {
                    Event want;
                    try {
                        want = one.parse(lines.get(i), null);
                    } catch (io.lseq.connectors.event.InvalidEventException e) {
                        badLines.add((long) i + 1);
                        continue;
                    }
                    Event e = got.get(k++);
                    assertEquals(want.key(), e.key(), "event " + i);
                    assertEquals(want.token(), e.token(), "event " + i);
                    assertEquals(want.ts(), e.ts(), "event " + i);
                }
                assertEquals(k, got.size());
                assertEquals(badLines.size(), p.rejected());
                assertTrue(badLines.size() > 6, "the test has bad records in several chunks");
                ObjectMapper json = new ObjectMapper();
                String[] letters = dead.toString(StandardCharsets.UTF_8).split("\n");
                assertEquals(badLines.size(), letters.length);
                for (int j = 0; j < letters.length; j++) {
                    JsonNode d = json.readTree(letters[j]);
                    assertEquals("in.jsonl:" + badLines.get(j), d.get("source").asText(), letters[j]);
                }
            }
        }
    }

    /** A record longer than the limit is rejected as too large, with its own source. */
    @Test
    void anOversizedRecordIsADeadLetter() throws Exception {
        ByteArrayOutputStream dead = new ByteArrayOutputStream();
        List<Event> got = new ArrayList<>();
        try (ParallelParser p = new ParallelParser(TOKENS, 2, dead, null, got::add)) {
            byte[] ok = "{\"key\":\"a\",\"token\":3}".getBytes(StandardCharsets.UTF_8);
            p.add(ok, ok.length, ok.length, null, 0, "topic/0@0");
            p.add(ok, ok.length, EventParser.MAX_RECORD_BYTES + 1L, null, 0, "topic/0@1");
            p.add(ok, ok.length, ok.length, "fallback", 0, "topic/0@2");
            p.finish();
        }
        assertEquals(2, got.size());
        JsonNode d = new ObjectMapper().readTree(dead.toString(StandardCharsets.UTF_8));
        assertEquals("topic/0@1", d.get("source").asText());
        assertTrue(d.get("error").asText().contains("large") || d.get("error").asText().contains("bytes"),
                d.toString());
    }
}
