package io.lseq.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.lseq.core.testing.TestModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** docs/contracts holds verbatim copies of the project contracts for users of a clone; they must not drift. */
class ContractCopiesTest {
    @ParameterizedTest
    @ValueSource(strings = {"MODEL_FORMAT.md", "EVENTS.md"})
    void copyEqualsTheSharedContract(String name) throws IOException {
        Path root = TestModels.repoRoot();
        Path shared = root.getParent().resolve("shared").resolve(name);
        assumeTrue(Files.exists(shared), "no ../shared beside this checkout");
        assertEquals(Files.readString(shared), Files.readString(root.resolve("docs/contracts").resolve(name)));
    }
}
