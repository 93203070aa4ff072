package dev.spillway.offload.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

class LaunchParamsTest {

    /** A buffer that is only a size: the marshaling asks the runtime for its address. */
    record FakeBuffer(long byteSize) implements DeviceBuffer {
        @Override
        public boolean isClosed() {
            return false;
        }

        @Override
        public void close() {
        }
    }

    @Test
    void eachParameterPointerLeadsToItsValueInParameterOrder() {
        FakeBuffer out = new FakeBuffer(64);
        FakeBuffer in = new FakeBuffer(32);
        KernelArgs args = new KernelArgs().buffer(out).buffer(in).i32(-7).i64(1L << 40).f32(0.5f);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment params = new LaunchParams(arena).fill(args, b -> b == out ? 0x7f00_0000_1000L : 0x7f00_0000_2000L);
            assertEquals(5 * ValueLayout.ADDRESS.byteSize(), params.byteSize(), "void*[5]");
            assertEquals(0x7f00_0000_1000L, value(params, 0).get(ValueLayout.JAVA_LONG, 0), "CUdeviceptr of out");
            assertEquals(0x7f00_0000_2000L, value(params, 1).get(ValueLayout.JAVA_LONG, 0), "CUdeviceptr of in");
            assertEquals(-7, value(params, 2).get(ValueLayout.JAVA_INT, 0));
            assertEquals(1L << 40, value(params, 3).get(ValueLayout.JAVA_LONG, 0));
            assertEquals(0.5f, value(params, 4).get(ValueLayout.JAVA_FLOAT, 0));
            for (int i = 0; i < 5; i++) {
                assertEquals(0, params.getAtIndex(ValueLayout.ADDRESS, i).address() % 8, "slot " + i + " is 8-byte aligned");
            }
            // The slots are distinct: writing one leaves the others alone.
            value(params, 2).set(ValueLayout.JAVA_INT, 0, 99);
            assertEquals(0.5f, value(params, 4).get(ValueLayout.JAVA_FLOAT, 0));
        }
    }

    @Test
    void noParametersIsANullArray() {
        try (Arena arena = Arena.ofConfined()) {
            assertSame(MemorySegment.NULL, new LaunchParams(arena).fill(new KernelArgs(), b -> 0));
        }
    }

    /** One block serves every launch: refilling it rewrites the values behind the same pointers, allocating nothing. */
    @Test
    void theBlockIsReusedAcrossLaunches() {
        FakeBuffer buf = new FakeBuffer(8);
        KernelArgs args = new KernelArgs();
        try (Arena arena = Arena.ofConfined()) {
            LaunchParams block = new LaunchParams(arena);
            MemorySegment first = block.fill(args.clear().buffer(buf).i32(1).f32(2f), b -> 0x1000L);
            MemorySegment second = block.fill(args.clear().buffer(buf).i32(3).f32(4f), b -> 0x2000L);
            assertSame(first, second, "the same void*[3]");
            assertEquals(0x2000L, value(second, 0).get(ValueLayout.JAVA_LONG, 0));
            assertEquals(3, value(second, 1).get(ValueLayout.JAVA_INT, 0));
            assertEquals(4f, value(second, 2).get(ValueLayout.JAVA_FLOAT, 0));
            MemorySegment longer = block.fill(args.i64(-5), b -> 0x2000L);
            assertEquals(4 * ValueLayout.ADDRESS.byteSize(), longer.byteSize());
            assertEquals(first.address(), longer.address(), "the same block");
            assertEquals(-5L, value(longer, 3).get(ValueLayout.JAVA_LONG, 0));
        }
    }

    @Test
    void argumentsAreReadBackByKindAndTheListIsBounded() {
        KernelArgs args = new KernelArgs().i32(7).i64(1L << 33).f32(-1.5f);
        assertEquals(3, args.size());
        assertEquals(KernelArgs.Kind.I64, args.kindAt(1));
        assertEquals(7, args.intAt(0));
        assertEquals(1L << 33, args.longAt(1));
        assertEquals(-1.5f, args.floatAt(2));
        assertThrows(IllegalArgumentException.class, () -> args.intAt(1), "an I64 is not read as an I32");
        assertThrows(IndexOutOfBoundsException.class, () -> args.kindAt(3));
        args.clear();
        assertEquals(0, args.size());
        for (int i = 0; i < KernelArgs.CAPACITY; i++) {
            args.i32(i);
        }
        assertThrows(IllegalStateException.class, () -> args.i32(99));
    }

    private static MemorySegment value(MemorySegment params, int i) {
        return params.getAtIndex(ValueLayout.ADDRESS, i).reinterpret(LaunchParams.SLOT);
    }
}
