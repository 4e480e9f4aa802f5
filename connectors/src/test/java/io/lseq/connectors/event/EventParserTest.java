package io.lseq.connectors.event;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lseq.core.format.ModelConfig;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class EventParserTest {
    final EventParser tokens = new EventParser(new ModelConfig.Input(true, 512, 1, 0));
    final EventParser features = new EventParser(new ModelConfig.Input(false, 0, -1, 3));

    @Test
    void readsTheContractExamples() throws InvalidEventException {
        Event e = tokens.parse("{\"key\": \"card-4411\", \"ts\": 1732924800123, \"token\": 17}", null);
        assertEquals(new Event("card-4411", 1732924800123L, null, 17, null).toString().replaceAll("\\[F@\\w+", ""),
                e.toString().replaceAll("\\[F@\\w+", ""));
        e = tokens.parse("{\"key\": \"card-4411\", \"ts\": 1732924800999, \"token\": 3, \"id\": \"evt-000123\", \"x\": [1, {\"y\": 2}]}", null);
        assertEquals("evt-000123", e.id());
        assertEquals(3, e.token());
        e = features.parse("{\"key\": \"sensor-9\", \"ts\": 1732924800456, \"features\": [0.12, -3.5, 7.0]}", null);
        assertArrayEquals(new float[] {0.12f, -3.5f, 7.0f}, e.features());
        assertNull(features.parse("{\"key\":\"s\",\"features\":[1,2,3]}", null).ts());
    }

    @Test
    void recordKeyIsUsedWhenTheValueHasNone() throws InvalidEventException {
        assertEquals("from-kafka", tokens.parse("{\"token\": 5}", "from-kafka").key());
        assertEquals("inner", tokens.parse("{\"key\":\"inner\",\"token\": 5}", "from-kafka").key());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "{\"key\": \"a\", \"token\": 9000}|token 9000 out of range [0, 512)",
        "{\"key\": \"a\", \"token\": -1}|token -1 out of range [0, 512)",
        "{\"token\": 3}|missing key",
        "{\"key\": \"\", \"token\": 3}|key is 0 UTF-8 bytes",
        "{\"key\": 7, \"token\": 3}|key must be a string, got an integer",
        "{\"key\": \"a\", \"token\": \"17\"}|token must be an integer, got a string",
        "{\"key\": \"a\", \"token\": 1.5}|token must be an integer, got a fractional number",
        "{\"key\": \"a\"}|missing token",
        "{\"key\": \"a\", \"features\": [1,2,3]}|model takes tokens, event has features",
        "{\"key\": \"a\", \"token\": 3, \"features\": [1]}|both token and features",
        "{\"key\": \"a\", \"ts\": \"yesterday\", \"token\": 3}|ts must be an integer",
        "{\"key\": \"a\", \"id\": 5, \"token\": 3}|id must be a string",
        "{\"key\": \"a\", \"token\": 3|not valid JSON",
        "{\"key\": \"a\", \"token\": 3} {}|not valid JSON",
        "[1, 2]|event must be a JSON object, got an array",
        "\"text\"|event must be a JSON object, got a string",
        "'   '|empty record",
    })
    void rejectsTokenEvents(String record, String reason) {
        String msg = assertThrows(InvalidEventException.class, () -> tokens.parse(record, null)).getMessage();
        assertTrue(msg.contains(reason), msg);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "{\"key\": \"s\", \"features\": [1, 2]}|expected 3 features, got 2",
        "{\"key\": \"s\", \"features\": [1, NaN, 2]}|features[1] is NaN",
        "{\"key\": \"s\", \"features\": [1, 2, Infinity]}|features[2] is infinite",
        "{\"key\": \"s\", \"features\": [1, 2, 1e39]}|beyond float32 range",
        "{\"key\": \"s\", \"features\": [1, \"2\", 3]}|features[1] must be a number, got a string",
        "{\"key\": \"s\", \"features\": 3}|features must be an array",
        "{\"key\": \"s\", \"token\": 3}|model takes features, event has a token",
    })
    void rejectsFeatureEvents(String record, String reason) {
        String msg = assertThrows(InvalidEventException.class, () -> features.parse(record, null)).getMessage();
        assertTrue(msg.contains(reason), msg);
    }

    @Test
    void keyLimitIsInUtf8Bytes() throws InvalidEventException {
        String k128 = "é".repeat(128); // 256 bytes
        assertEquals(k128, tokens.parse("{\"key\":\"" + k128 + "\",\"token\":1}", null).key());
        String msg = assertThrows(InvalidEventException.class,
                () -> tokens.parse("{\"key\":\"" + k128 + "a\",\"token\":1}", null)).getMessage();
        assertTrue(msg.contains("key is 257 UTF-8 bytes"), msg);
    }

    @Test
    void recordsOverOneMebibyteAreRejectedUnread() {
        byte[] big = ("{\"key\":\"a\",\"token\":1,\"pad\":\"" + "x".repeat(1 << 20) + "\"}").getBytes(StandardCharsets.UTF_8);
        String msg = assertThrows(InvalidEventException.class, () -> tokens.parse(big, null)).getMessage();
        assertTrue(msg.contains("over the 1 MiB"), msg);
    }

    @Test
    void deadLetterCutsRawAtFourKibOnACharacterBoundary() {
        byte[] rec = ("x" + "é".repeat(3000)).getBytes(StandardCharsets.UTF_8);
        DeadLetter d = DeadLetter.of("bad", rec, 0, rec.length, DeadLetter.kafkaSource("events", 3, 1182));
        byte[] raw = d.raw().getBytes(StandardCharsets.UTF_8);
        assertTrue(raw.length <= 4096 && raw.length >= 4094, "cut at " + raw.length);
        assertTrue(d.raw().startsWith("xé") && !d.raw().contains("\uFFFD"));
        assertEquals("events/3@1182", d.source());
    }
}
