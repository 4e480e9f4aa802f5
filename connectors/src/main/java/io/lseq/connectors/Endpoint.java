package io.lseq.connectors;

import java.io.Serializable;

/**
 * Where records come from or go: {@code file:PATH} or {@code kafka://HOST:PORT[,HOST:PORT...]/TOPIC}.
 *
 * @param kafka whether it is a Kafka topic (otherwise a file path)
 * @param bootstrap Kafka bootstrap servers, for topics
 * @param target the topic, or the file path
 */
public record Endpoint(boolean kafka, String bootstrap, String target) implements Serializable {

    /** Parses {@code text}; the message of the exception says what forms are accepted. */
    public static Endpoint parse(String option, String text) {
        if (text.startsWith("file:")) {
            String path = text.substring("file:".length());
            if (path.startsWith("//")) {
                path = path.substring(2);
            }
            if (path.isEmpty()) {
                throw new IllegalArgumentException(option + ": file: needs a path, e.g. file:events.jsonl");
            }
            return new Endpoint(false, null, path);
        }
        if (text.startsWith("kafka://")) {
            String rest = text.substring("kafka://".length());
            int slash = rest.indexOf('/');
            if (slash <= 0 || slash == rest.length() - 1 || rest.indexOf('/', slash + 1) >= 0) {
                throw new IllegalArgumentException(option + ": expected kafka://HOST:PORT/TOPIC, got " + text);
            }
            for (String server : rest.substring(0, slash).split(",")) {
                int colon = server.lastIndexOf(':');
                if (colon <= 0 || !server.substring(colon + 1).matches("[0-9]{1,5}")) {
                    throw new IllegalArgumentException(option + ": '" + server + "' is not HOST:PORT in " + text);
                }
            }
            return new Endpoint(true, rest.substring(0, slash), rest.substring(slash + 1));
        }
        throw new IllegalArgumentException(option + ": expected file:PATH or kafka://HOST:PORT/TOPIC, got '" + text + "'");
    }

    @Override
    public String toString() {
        return kafka ? "kafka://" + bootstrap + "/" + target : "file:" + target;
    }
}
