package dev.spillway.offload.metrics;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs an external tool ({@code nvidia-smi}, {@code rocm-smi}) and gives its output or why there is none. */
@FunctionalInterface
public interface CommandRunner {
    /**
     * What a command gave.
     *
     * @param exitCode the exit status; -1 when it did not run or did not finish
     * @param output   standard output and error together ("" when it did not run)
     * @param failure  why it did not run or finish (not found, timed out, interrupted); null when it ran
     */
    record Result(int exitCode, String output, String failure) {
        public static Result failed(String why) {
            return new Result(-1, "", why);
        }

        public boolean ran() {
            return failure == null;
        }
    }

    Result run(List<String> command);

    /**
     * The real runner: {@link ProcessBuilder}, output to a temporary file (so nothing blocks on a
     * full pipe and no reader thread is needed), killed after {@code timeout}.
     */
    static CommandRunner system(Duration timeout) {
        return command -> {
            Path out = null;
            Process p = null;
            try {
                out = Files.createTempFile("spillway-smi", ".out");
                p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile())
                        .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
                if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                    p.destroyForcibly();
                    return Result.failed(command.getFirst() + " did not answer within " + timeout.toMillis() + " ms");
                }
                return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), null);
            } catch (IOException e) {
                String msg = String.valueOf(e.getMessage());
                return Result.failed(msg.contains("error=2") || msg.contains("No such file")
                        ? command.getFirst() + ": command not found" : command.getFirst() + ": " + msg);
            } catch (InterruptedException e) {
                if (p != null) {
                    p.destroyForcibly();
                }
                Thread.currentThread().interrupt();
                return Result.failed(command.getFirst() + ": interrupted");
            } finally {
                if (out != null) {
                    try {
                        Files.deleteIfExists(out);
                    } catch (IOException ignored) {
                        // a temporary file; the OS cleans its temporary folder
                    }
                }
            }
        };
    }
}
