package dev.spillway.offload.device;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The arguments of one kernel launch, in parameter order: device buffers and 32/64-bit scalars.
 * Runtimes marshal them (clSetKernelArg, or the {@code void**} array of cuLaunchKernel/hipModuleLaunchKernel).
 */
public final class KernelArgs {
    /** One argument. */
    public sealed interface Arg permits BufferArg, IntArg, LongArg, FloatArg {
    }

    public record BufferArg(DeviceBuffer buffer) implements Arg {
    }

    public record IntArg(int value) implements Arg {
    }

    public record LongArg(long value) implements Arg {
    }

    public record FloatArg(float value) implements Arg {
    }

    private final List<Arg> args = new ArrayList<>(12);

    public KernelArgs buffer(DeviceBuffer b) {
        if (b.isClosed()) {
            throw new IllegalStateException("kernel argument " + args.size() + " is a closed buffer");
        }
        args.add(new BufferArg(b));
        return this;
    }

    public KernelArgs i32(int v) {
        args.add(new IntArg(v));
        return this;
    }

    public KernelArgs i64(long v) {
        args.add(new LongArg(v));
        return this;
    }

    public KernelArgs f32(float v) {
        args.add(new FloatArg(v));
        return this;
    }

    public List<Arg> list() {
        return Collections.unmodifiableList(args);
    }
}
