package io.lseq.connectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lseq.connectors.event.Event;
import io.lseq.connectors.event.Score;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.java.typeutils.PojoTypeInfo;
import org.junit.jupiter.api.Test;

class EndpointTest {
    @Test
    void parsesFilesAndTopics() {
        assertEquals(new Endpoint(false, null, "/tmp/x.jsonl"), Endpoint.parse("--source", "file:/tmp/x.jsonl"));
        assertEquals(new Endpoint(false, null, "/tmp/x"), Endpoint.parse("--source", "file:///tmp/x"));
        assertEquals(new Endpoint(true, "127.0.0.1:9092", "events"), Endpoint.parse("--source", "kafka://127.0.0.1:9092/events"));
        assertEquals(new Endpoint(true, "a:1,b:2", "t"), Endpoint.parse("--sink", "kafka://a:1,b:2/t"));
        for (String bad : new String[] {"events.jsonl", "kafka://host/events", "kafka://h:1/", "kafka://h:x/t", "file:"}) {
            String msg = assertThrows(IllegalArgumentException.class, () -> Endpoint.parse("--source", bad)).getMessage();
            assertTrue(msg.startsWith("--source: "), msg);
        }
    }

    @Test
    void recordsTravelAsPojosNotKryo() {
        // Kryo would be slow and version-fragile in checkpoints and shuffles.
        for (Class<?> c : new Class<?>[] {Event.class, Score.class, RawRecord.class}) {
            assertTrue(TypeInformation.of(c) instanceof PojoTypeInfo, c + " is " + TypeInformation.of(c));
        }
    }
}
