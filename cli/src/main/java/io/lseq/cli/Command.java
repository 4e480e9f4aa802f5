package io.lseq.cli;

/** One {@code lseq} subcommand. */
public interface Command {
    /** The name typed after {@code lseq}. */
    String name();

    /** One line for {@code lseq --help}. */
    String summary();

    /** The command's options (also its {@code --help}). */
    Args args();

    /**
     * Runs with parsed arguments.
     *
     * @return the process exit status
     * @throws Exception anything; {@link Main} turns it into one line on stderr
     */
    int run(Args args) throws Exception;
}
