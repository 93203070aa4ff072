package dev.spillway.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

class ZeroedMemoryTest {
    @Test
    void usesCallocWithNativeAccess() {
        assertTrue(ZeroedMemory.lazy(), "calloc should be reachable: the tests run with native access");
    }

    @Test
    void givesZeroedAlignedMemoryOfTheSizeAskedThatTheArenaFrees() {
        MemorySegment s;
        try (Arena arena = Arena.ofShared()) {
            for (long bytes : new long[] {0, 1, 63, 4096, 3 << 20}) {
                s = ZeroedMemory.allocate(arena, bytes, 64);
                assertEquals(bytes, s.byteSize());
                assertEquals(0, s.address() % 64, "aligned");
                for (long i = 0; i < bytes; i += 4093) {
                    assertEquals(0, s.get(ValueLayout.JAVA_BYTE, i));
                }
                if (bytes > 0) {
                    s.set(ValueLayout.JAVA_BYTE, bytes - 1, (byte) 7);
                    assertEquals(7, s.get(ValueLayout.JAVA_BYTE, bytes - 1));
                }
            }
            s = ZeroedMemory.allocate(arena, 100, 4096);
            assertEquals(0, s.address() % 4096);
        }
        assertFalse(s.scope().isAlive(), "freed with the arena");
    }

    @Test
    void rejectsBadSizesAndAlignments() {
        try (Arena arena = Arena.ofConfined()) {
            assertThrows(IllegalArgumentException.class, () -> ZeroedMemory.allocate(arena, -1, 64));
            assertThrows(IllegalArgumentException.class, () -> ZeroedMemory.allocate(arena, 16, 0));
            assertThrows(IllegalArgumentException.class, () -> ZeroedMemory.allocate(arena, 16, 48));
        }
    }
}
