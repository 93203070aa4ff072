package dev.spillway.cpu.jmh;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Settings every kernel benchmark shares (JMH's class annotations are inherited): average time per
 * operation in microseconds, one fork with the flags the launcher ({@code ./spillway}) gives the JVM,
 * short warmup and measurement. All of it can be overridden on the command line ({@code -f}, {@code -wi},
 * {@code -w}, {@code -i}, {@code -r}, {@code -bm}, {@code -tu}, {@code -jvmArgsAppend}).
 *
 * <p>State is per thread ({@code -t 2} runs two independent copies, e.g. to see how two cores share
 * the memory bandwidth). Each benchmark class holds its parameters and its {@code @Setup}; data
 * shared between them (matrices in native memory, random inputs) comes from {@link KernelData}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
        "-XX:+UseParallelGC", "--sun-misc-unsafe-memory-access=allow"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 3, time = 1)
@State(Scope.Thread)
public abstract class KernelBenchmark {
}
