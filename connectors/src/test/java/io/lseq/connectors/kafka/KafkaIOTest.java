package io.lseq.connectors.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.lseq.connectors.Endpoint;
import java.util.Properties;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.junit.jupiter.api.Test;

/** The sinks' producer settings per delivery mode, and the user's properties over them. */
class KafkaIOTest {
    @Test
    void atLeastOnceIsIdempotentAcksAllAndLingersLittle() {
        Properties p = KafkaIO.producerProperties(DeliveryGuarantee.AT_LEAST_ONCE, new Properties());
        assertEquals("true", p.getProperty("enable.idempotence"));
        assertEquals("all", p.getProperty("acks"));
        assertEquals("5", p.getProperty("linger.ms"));
        assertNull(p.getProperty("transaction.timeout.ms"));
        assertNull(p.getProperty("transactional.id"));
    }

    @Test
    void exactlyOnceSetsTheTransactionTimeoutOnly() {
        Properties p = KafkaIO.producerProperties(DeliveryGuarantee.EXACTLY_ONCE, new Properties());
        assertEquals(KafkaIO.TRANSACTION_TIMEOUT_MS, p.getProperty("transaction.timeout.ms"));
        assertFalse(p.containsKey("linger.ms"));
        assertFalse(p.containsKey("acks"));
    }

    @Test
    void theUsersPropertiesWin() {
        Properties extra = new Properties();
        extra.setProperty("linger.ms", "50");
        extra.setProperty("security.protocol", "SASL_SSL");
        Properties p = KafkaIO.producerProperties(DeliveryGuarantee.AT_LEAST_ONCE, extra);
        assertEquals("50", p.getProperty("linger.ms"));
        assertEquals("SASL_SSL", p.getProperty("security.protocol"));
        assertEquals("all", p.getProperty("acks"));
    }

    @Test
    void noneIsRefusedAndAtLeastOnceNeedsNoTransactionalIdPrefix() {
        assertThrows(IllegalArgumentException.class,
                () -> KafkaIO.producerProperties(DeliveryGuarantee.NONE, new Properties()));
        Endpoint ep = Endpoint.parse("--sink", "kafka://127.0.0.1:9092/scores");
        // builds without a prefix (exactly-once would refuse to)
        KafkaIO.scoreSink(ep, DeliveryGuarantee.AT_LEAST_ONCE, null, new Properties());
        assertThrows(RuntimeException.class, () -> KafkaIO.scoreSink(ep, DeliveryGuarantee.EXACTLY_ONCE, null, new Properties()));
    }
}
