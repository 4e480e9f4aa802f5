package io.lseq.cli;

/**
 * A Flink cluster's REST endpoint as given on the command line: {@code --jobmanager HOST:PORT}.
 *
 * @param host host name or address
 * @param port REST port
 */
record JobManagerAddress(String host, int port) {
    /** Parses {@code HOST:PORT}, or throws a {@link UsageException} naming the option. */
    static JobManagerAddress parse(String text) {
        int colon = text.lastIndexOf(':');
        if (colon <= 0) {
            throw new UsageException("--jobmanager must be HOST:PORT, got '" + text + "'");
        }
        String port = text.substring(colon + 1);
        try {
            int p = Integer.parseInt(port);
            if (p > 0 && p < 65536) {
                return new JobManagerAddress(text.substring(0, colon), p);
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new UsageException("--jobmanager port must be 1..65535, got '" + port + "'");
    }

    @Override
    public String toString() {
        return host + ":" + port;
    }
}
