package io.lseq.connectors.event;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lseq.connectors.json.Json;
import io.lseq.core.format.ModelConfig;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.Random;
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

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "{\"key\": \"a\", \"key\": \"b\", \"token\": 3}|duplicate field \"key\"",
        "{\"key\": \"a\", \"key\": \"a\", \"token\": 3}|duplicate field \"key\"",
        "{\"key\": \"a\", \"ts\": 1, \"token\": 3, \"ts\": 2}|duplicate field \"ts\"",
        "{\"key\": \"a\", \"ts\": null, \"ts\": 2, \"token\": 3}|duplicate field \"ts\"",
        "{\"key\": \"a\", \"token\": 3, \"token\": 4}|duplicate field \"token\"",
        "{\"key\": \"a\", \"id\": \"x\", \"token\": 3, \"id\": null}|duplicate field \"id\"",
        "{\"key\": \"a\", \"token\": 3, \"x\": 1, \"x\": {}}|duplicate field \"x\"",
        "{\"key\": \"a\", \"x\": 1, \"y\": 2, \"token\": 3, \"z\": 3, \"y\": 4}|duplicate field \"y\"",
        "{\"token\": 3, \"x\": 1, \"x\": 2}|duplicate field \"x\"",
        "{\"token\": 3, \"a\": 1, \"b\": 2, \"c\": 3, \"d\": 4, \"c\": 5}|duplicate field \"c\"",
        "{\"token\": 3, \"a\": 1, \"b\": 2, \"c\": 3, \"d\": 4, \"e\": 5, \"d\": 6}|duplicate field \"d\"",
    })
    void rejectsDuplicateFields(String record, String reason) {
        assertEquals(reason, assertThrows(InvalidEventException.class, () -> tokens.parse(record, "from-kafka")).getMessage());
    }

    @Test
    void acceptsManyDistinctUnknownFields() throws InvalidEventException {
        StringBuilder rec = new StringBuilder("{\"key\": \"a\", \"token\": 3");
        for (int i = 0; i < 1000; i++) {
            rec.append(", \"f").append(i).append("\": {\"f").append(i).append("\": ").append(i).append('}');
        }
        assertEquals(3, tokens.parse(rec.append('}').toString(), null).token());
        String msg = assertThrows(InvalidEventException.class,
                () -> tokens.parse(rec.insert(rec.length() - 1, ", \"f999\": 0").toString(), null)).getMessage();
        assertEquals("duplicate field \"f999\"", msg);
    }

    @Test
    void rejectsDuplicateFeatures() {
        String msg = assertThrows(InvalidEventException.class,
                () -> features.parse("{\"key\": \"s\", \"features\": [1, 2, 3], \"features\": [4, 5, 6]}", null)).getMessage();
        assertEquals("duplicate field \"features\"", msg);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        // the JSON text of the key or id | the reason
        "\\ud800|is not valid Unicode (unpaired surrogate \\ud800 at char 0)",
        "abc\\ud800|is not valid Unicode (unpaired surrogate \\ud800 at char 3)",
        "ab\\ud800c|is not valid Unicode (unpaired surrogate \\ud800 at char 2)",
        "\\udc00x|is not valid Unicode (unpaired surrogate \\udc00 at char 0)",
        "x\\udc00|is not valid Unicode (unpaired surrogate \\udc00 at char 1)",
        "\\ude00\\ud83d|is not valid Unicode (unpaired surrogate \\ude00 at char 0)",
        "\\ud83d\\ude00\\ud83d|is not valid Unicode (unpaired surrogate \\ud83d at char 2)",
        "\\ud83d\\ud83d\\ude00|is not valid Unicode (unpaired surrogate \\ud83d at char 0)",
    })
    void rejectsKeysAndIdsWithUnpairedSurrogates(String text, String reason) {
        String msg = assertThrows(InvalidEventException.class,
                () -> tokens.parse("{\"key\": \"" + text + "\", \"token\": 3}", null)).getMessage();
        assertEquals("key " + reason, msg);
        msg = assertThrows(InvalidEventException.class,
                () -> tokens.parse("{\"key\": \"a\", \"id\": \"" + text + "\", \"token\": 3}", null)).getMessage();
        assertEquals("id " + reason, msg);
        msg = assertThrows(InvalidEventException.class,
                () -> tokens.parse("{\"token\": 3}", text.replace("\\ud800", "\ud800").replace("\\udc00", "\udc00")
                        .replace("\\ude00", "\ude00").replace("\\ud83d", "\ud83d"))).getMessage();
        assertEquals("key " + reason, msg, "a Kafka record key");
    }

    @Test
    void acceptsCharactersBeyondTheBmpAndWritesThemBack() throws InvalidEventException {
        String smile = "\ud83d\ude00"; // U+1F600, one correct surrogate pair
        Event escaped = tokens.parse("{\"key\": \"k\\ud83d\\ude00\", \"id\": \"\\ud83d\\ude00!\", \"token\": 3}", null);
        assertEquals("k" + smile, escaped.key());
        assertEquals(smile + "!", escaped.id());
        byte[] raw = ("{\"key\": \"k" + smile + "\", \"id\": \"" + smile + "!\", \"token\": 3}").getBytes(StandardCharsets.UTF_8);
        Event utf8 = tokens.parse(raw, null);
        assertEquals("k" + smile, utf8.key());
        assertEquals(smile + "!", utf8.id());
        Score back = Json.parseScore(new String(Json.score(new Score(utf8.key(), 0, null, utf8.id(), "m", new float[] {1f},
                false)), StandardCharsets.UTF_8));
        assertEquals("k" + smile, back.key());
        assertEquals(smile + "!", back.id());
        assertEquals(smile.repeat(64), tokens.parse("{\"key\": \"" + smile.repeat(64) + "\", \"token\": 3}", null).key(),
                "64 characters of 4 UTF-8 bytes fill the 256-byte key limit");
        String msg = assertThrows(InvalidEventException.class,
                () -> tokens.parse("{\"key\": \"" + "\\ud83d\\ude00".repeat(65) + "\", \"token\": 3}", null)).getMessage();
        assertTrue(msg.contains("key is 260 UTF-8 bytes"), msg);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        // bytes (hex) that are not UTF-8 | the first bad byte | its place among them
        "ff|ff|0",
        "61fe|fe|1",
        "80|80|0", // a continuation byte alone
        "c3|c3|0", // cut short: the closing quote is no continuation byte
        "e282|e2|0",
        "c3a9e282|e2|2",
        "c080|c0|0", // overlong U+0000
        "c1a1|c1|0", // overlong 'a'
        "e08080|e0|0", // overlong, 3 bytes
        "f08080a0|f0|0", // overlong, 4 bytes
        "eda080|ed|0", // U+D800 encoded (CESU-8), which Jackson would read as a character
        "edbfbf|ed|0", // U+DFFF encoded
        "f4908080|f4|0", // U+110000
        "f5808080|f5|0",
        "f880808080|f8|0",
    })
    void rejectsMalformedUtf8(String hex, String badByte, int at) throws InvalidEventException {
        byte[] bad = HexFormat.of().parseHex(hex);
        for (String json : new String[] {"{\"key\": \"#\", \"token\": 3}", "{\"key\": \"a\", \"x\": \"#\", \"token\": 3}",
                "{\"key\": \"a\", \"token\": 3} #"}) {
            int hole = json.indexOf('#');
            ByteBuffer buf = ByteBuffer.allocate(json.length() - 1 + bad.length);
            byte[] rec = buf.put(json.substring(0, hole).getBytes(StandardCharsets.US_ASCII)).put(bad)
                    .put(json.substring(hole + 1).getBytes(StandardCharsets.US_ASCII)).array();
            String msg = assertThrows(InvalidEventException.class, () -> tokens.parse(rec, null)).getMessage();
            assertEquals("not valid UTF-8 (byte 0x" + badByte + " at offset " + (hole + at) + ")", msg);
            // Its dead letter is written, with the bad bytes replaced.
            String line = new String(Json.deadLetter(DeadLetter.of(msg, rec, 0, rec.length, "f:1")), StandardCharsets.UTF_8);
            assertEquals(msg, Json.parseDeadLetter(line).error());
            assertTrue(Json.parseDeadLetter(line).raw().contains("\uFFFD"), line);
        }
        byte[] event = "{\"key\": \"a\", \"token\": 3}".getBytes(StandardCharsets.US_ASCII);
        byte[] around = ByteBuffer.allocate(2 * bad.length + event.length).put(bad).put(event).put(bad).array();
        assertEquals("a", tokens.parse(around, bad.length, event.length, null).key(), "only the record's own bytes count");
    }

    @Test
    void utf8CheckAgreesWithTheJdkDecoder() {
        Random rnd = new Random(15);
        byte[] pool = HexFormat.of().parseHex("00417f80bfc0c1c2dfe0e1ecedeef0f1f3f4f5f8ff8f909fa0");
        for (int round = 0; round < 200_000; round++) {
            byte[] b = new byte[rnd.nextInt(24)];
            for (int i = 0; i < b.length; i++) {
                b[i] = rnd.nextInt(3) == 0 ? (byte) rnd.nextInt(256) : rnd.nextInt(2) == 0 ? (byte) 'a' : pool[rnd.nextInt(pool.length)];
            }
            int off = b.length == 0 ? 0 : rnd.nextInt(b.length);
            int len = b.length - off - (b.length - off == 0 ? 0 : rnd.nextInt(b.length - off));
            boolean jdk;
            try {
                StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(b, off, len));
                jdk = true;
            } catch (CharacterCodingException ex) {
                jdk = false;
            }
            assertEquals(jdk, EventParser.badUtf8(b, off, len) < 0, () -> HexFormat.of().formatHex(b, off, off + len));
        }
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
