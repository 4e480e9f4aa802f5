package io.lseq.cli;

import java.util.concurrent.Callable;
import picocli.AutoComplete;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code lseq completion}: a bash (and zsh) completion script for every command and option. */
@Command(name = "completion", mixinStandardHelpOptions = true, customSynopsis = "lseq completion",
        header = "print a bash or zsh completion script of every command and option: source <(lseq completion)",
        description = {"Prints a completion script for bash (zsh: after autoload -U +X bashcompinit && bashcompinit).",
            "For this shell: source <(bin/lseq completion); for every shell, save it where bash-completion looks,",
            "e.g. bin/lseq completion > ~/.local/share/bash-completion/completions/lseq. It completes the command",
            "lseq: put bin/ on the PATH."})
final class CompletionCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        System.out.print(AutoComplete.bash("lseq", spec.parent().commandLine()));
        return 0;
    }
}
