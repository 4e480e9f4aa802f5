package io.lseq.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lseq.core.testing.TestModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The committed PTX is built from the committed sources, and holds every kernel the Java side launches. */
class PtxTest {
    static final Path CUDA = TestModels.repoRoot().resolve("gpu/src/main/cuda");

    @Test
    void ptxIsBuiltFromTheCurrentSources() throws IOException, NoSuchAlgorithmException {
        for (String module : CudaDevice.MODULES.keySet()) {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(Files.readAllBytes(CUDA.resolve(module + ".cu")));
            sha.update(Files.readAllBytes(CUDA.resolve("lseq_cuda.h")));
            String want = "// lseq: sources sha256 " + HexFormat.of().formatHex(sha.digest());
            String ptx = CudaDevice.ptx(module);
            assertTrue(ptx.contains(want), module + ".ptx is older than its sources: run tools/gpu/build-ptx.sh");
            // The GPU machine's driver (CUDA 13) JIT-compiles compute_80 PTX for the H200 (STACK.md).
            assertTrue(ptx.contains(".target sm_80"), module + ".ptx targets sm_80");
        }
    }

    @Test
    void everyKernelTheJavaSideLaunchesIsInItsModule() {
        for (Map.Entry<String, String[]> m : CudaDevice.MODULES.entrySet()) {
            String ptx = CudaDevice.ptx(m.getKey());
            for (String kernel : m.getValue()) {
                assertTrue(ptx.contains(".visible .entry " + kernel + "("), kernel + " in " + m.getKey() + ".ptx");
            }
            long entries = ptx.lines().filter(l -> l.startsWith(".visible .entry")).count();
            assertEquals(m.getValue().length, entries, "kernels in " + m.getKey() + ".ptx that Java does not know");
        }
    }

    @Test
    void javaAndCudaAgreeOnTheTileShape() throws IOException {
        String scan = Files.readString(CUDA.resolve("lru_scan.cu"));
        assertTrue(scan.contains("#define CH " + LruScan.CH + "\n"), "CH");
        assertTrue(scan.contains("#define G " + LruScan.G + "\n"), "G");
        for (String v : LruScan.VARIANTS) {
            String l = v.replaceAll("^l(\\d+).*$", "$1");
            assertTrue(scan.contains("lru_scan_" + v + "(LSEQ_SCAN_PARAMS) {\n    scan_tile<" + l + ">"), v);
        }
        assertTrue(Files.readString(CUDA.resolve("lseq_cuda.h")).contains("#define LSEQ_ROW_WARPS 8\n"), "row warps");
    }
}
