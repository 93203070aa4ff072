package dev.spillway.offload;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Discovery in a child JVM, whose stderr shows what the JVM itself prints while libraries load (e.g.
 * "might have disabled stack guard" for Debian's libamdhip64.so.5, linked with an executable stack).
 */
class QuietProbingTest {

    /** The child: discovers and prints one line per API. */
    public static final class Discover {
        public static void main(String[] args) {
            for (DeviceApi.Listing l : Devices.standard().discover().listings()) {
                System.out.println(l.api() + ": " + (l.reason() != null ? l.reason() : l.devices().size() + " device(s)"));
            }
        }
    }

    @Test
    void discoveryPrintsNothingOnStderr() throws Exception {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(java.toString(), "-cp", System.getProperty("java.class.path"),
                "--enable-native-access=ALL-UNNAMED", "--add-modules=jdk.incubator.vector", Discover.class.getName())
                .start();
        p.getOutputStream().close();
        CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> read(p.getInputStream()));
        CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> read(p.getErrorStream()));
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "discovery finished");
        assertEquals(0, p.exitValue(), err.get());
        List<String> lines = out.get().lines().toList();
        assertEquals(List.of("cuda", "hip", "opencl", "tornado"), lines.stream().map(l -> l.substring(0, l.indexOf(':'))).toList(), out.get());
        String stderr = err.get();
        assertFalse(stderr.contains("stack guard"), stderr);
        // Only the incubator module's notice may appear (WARNING: Using incubator modules: jdk.incubator.vector).
        assertTrue(stderr.lines().allMatch(l -> l.contains("incubator")), "stderr:\n" + stderr);
        DeviceNodes.system().amdMissing().ifPresent(reason ->
                assertTrue(lines.contains("hip: " + reason), "no AMD driver here, so HIP says so:\n" + lines));
    }

    private static String read(java.io.InputStream in) {
        try (in) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
