package dev.spillway.offload.device;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.function.ToLongFunction;

/**
 * The {@code void** kernelParams} of {@code cuLaunchKernel} and {@code hipModuleLaunchKernel}: an
 * array of one pointer per kernel parameter, each pointing to that parameter's value (a device
 * pointer, an int, a long or a float), in parameter order.
 *
 * <p>One block of {@link KernelArgs#CAPACITY} pointers and as many 8-byte value slots, allocated once
 * in its owner's arena; pointer {@code i} always points at slot {@code i}, so {@link #fill} writes
 * only the values. The driver copies the values when the launch call is made, so the block may be
 * refilled as soon as that call returns; its owner serializes launches (the block is shared state).
 */
public final class LaunchParams {
    /** Each value gets an 8-byte slot, aligned for any parameter type used. */
    static final long SLOT = 8;

    private final MemorySegment[] pointers; // [n]: the first n pointers, void*[n]
    private final MemorySegment values;     // CAPACITY slots of SLOT bytes

    /** Allocates the block in {@code arena}, which owns it. */
    public LaunchParams(Arena arena) {
        int n = KernelArgs.CAPACITY;
        MemorySegment block = arena.allocate(2 * SLOT * n, SLOT);
        values = block.asSlice(SLOT * n, SLOT * n);
        pointers = new MemorySegment[n + 1];
        for (int i = 0; i <= n; i++) {
            pointers[i] = block.asSlice(0, SLOT * i);
        }
        for (int i = 0; i < n; i++) {
            pointers[n].setAtIndex(ValueLayout.ADDRESS, i, values.asSlice(SLOT * i, SLOT));
        }
    }

    /**
     * Writes the values of {@code args}, a buffer as the device address {@code address} gives for it
     * (the runtime validates the buffer there), and returns the pointer array, {@code void*[args.size()]};
     * NULL for a kernel without parameters.
     */
    public MemorySegment fill(KernelArgs args, ToLongFunction<DeviceBuffer> address) {
        int n = args.size();
        if (n == 0) {
            return MemorySegment.NULL;
        }
        for (int i = 0; i < n; i++) {
            long offset = SLOT * i;
            switch (args.kindAt(i)) {
                case BUFFER -> values.set(ValueLayout.JAVA_LONG, offset, address.applyAsLong(args.bufferAt(i)));
                case I32 -> values.set(ValueLayout.JAVA_INT, offset, args.intAt(i));
                case I64 -> values.set(ValueLayout.JAVA_LONG, offset, args.longAt(i));
                case F32 -> values.set(ValueLayout.JAVA_FLOAT, offset, args.floatAt(i));
            }
        }
        return pointers[n];
    }
}
