package io.lseq.connectors.json;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.lseq.connectors.event.DeadLetter;
import io.lseq.connectors.event.Score;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class JsonTest {
    @Test
    void scoreLooksLikeTheContract() {
        Score s = new Score("card-4411", 42, 1732924800999L, "evt-000123", "fraud-lru-small", new float[] {7.3125f}, false);
        assertEquals("{\"key\":\"card-4411\",\"seq\":42,\"ts\":1732924800999,\"id\":\"evt-000123\","
                + "\"model\":\"fraud-lru-small\",\"score\":7.3125}", new String(Json.score(s), StandardCharsets.UTF_8));
        Score p = new Score("k\"1", 0, null, null, "m", new float[] {0.25f, 0.75f}, true);
        String line = new String(Json.score(p), StandardCharsets.UTF_8);
        assertEquals("{\"key\":\"k\\\"1\",\"seq\":0,\"model\":\"m\",\"probs\":[0.25,0.75]}", line);
        Score back = Json.parseScore(line);
        assertEquals("k\"1", back.key());
        assertEquals(0.75f, back.values()[1]);
    }

    @Test
    void deadLetterLooksLikeTheContract() {
        DeadLetter d = new DeadLetter("token 9000 out of range [0, 512)", "{\"key\":\"a\",\"token\":9000}", "events-topic/3@1182");
        String line = new String(Json.deadLetter(d), StandardCharsets.UTF_8);
        assertEquals("{\"error\":\"token 9000 out of range [0, 512)\",\"raw\":\"{\\\"key\\\":\\\"a\\\",\\\"token\\\":9000}\","
                + "\"source\":\"events-topic/3@1182\"}", line);
        assertEquals(d, Json.parseDeadLetter(line));
    }
}
