package dev.spillway.offload.device;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.function.ToLongFunction;

/**
 * The {@code void** kernelParams} of {@code cuLaunchKernel} and {@code hipModuleLaunchKernel}: an
 * array of one pointer per kernel parameter, each pointing to that parameter's value (a device
 * pointer, an int, a long or a float), in parameter order. The driver copies the values at launch,
 * so the memory may be freed as soon as the launch call returns.
 */
public final class LaunchParams {
    /** Each value gets an 8-byte slot, aligned for any parameter type used. */
    static final long SLOT = 8;

    private LaunchParams() {
    }

    /**
     * Allocates the pointer array followed by the value slots in {@code arena}.
     *
     * @param address the device address of a buffer argument (validated by the runtime)
     * @return the pointer array ({@code args.size()} addresses); NULL for a kernel without parameters
     */
    public static MemorySegment marshal(Arena arena, List<KernelArgs.Arg> args, ToLongFunction<DeviceBuffer> address) {
        int n = args.size();
        if (n == 0) {
            return MemorySegment.NULL;
        }
        MemorySegment block = arena.allocate(2 * SLOT * n, SLOT);
        MemorySegment pointers = block.asSlice(0, SLOT * n);
        for (int i = 0; i < n; i++) {
            MemorySegment slot = block.asSlice(SLOT * (n + i), SLOT);
            switch (args.get(i)) {
                case KernelArgs.BufferArg b -> slot.set(ValueLayout.JAVA_LONG, 0, address.applyAsLong(b.buffer()));
                case KernelArgs.IntArg v -> slot.set(ValueLayout.JAVA_INT, 0, v.value());
                case KernelArgs.LongArg v -> slot.set(ValueLayout.JAVA_LONG, 0, v.value());
                case KernelArgs.FloatArg v -> slot.set(ValueLayout.JAVA_FLOAT, 0, v.value());
            }
            pointers.setAtIndex(ValueLayout.ADDRESS, i, slot);
        }
        return pointers;
    }
}
