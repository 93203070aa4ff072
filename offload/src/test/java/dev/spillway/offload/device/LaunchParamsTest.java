package dev.spillway.offload.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
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
            MemorySegment params = LaunchParams.marshal(arena, args.list(), b -> b == out ? 0x7f00_0000_1000L : 0x7f00_0000_2000L);
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
            assertSame(MemorySegment.NULL, LaunchParams.marshal(arena, List.of(), b -> 0));
        }
    }

    private static MemorySegment value(MemorySegment params, int i) {
        return params.getAtIndex(ValueLayout.ADDRESS, i).reinterpret(LaunchParams.SLOT);
    }
}
