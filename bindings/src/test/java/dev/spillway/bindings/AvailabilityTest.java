package dev.spillway.bindings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

class AvailabilityTest {

    @Test
    void aMissingLibraryIsAReasonAndTheWrapperIsNeverMade() {
        Availability<Object> result = Availability.load(() -> {
            throw new AssertionError("the wrapper must not be created for a missing library");
        }, "libspillway-does-not-exist.so.1");
        Availability.Unavailable<Object> u = assertInstanceOf(Availability.Unavailable.class, result);
        assertTrue(u.reason().startsWith("libspillway-does-not-exist.so.1 not found"), u.reason());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> result.orElseThrow(IllegalStateException::new));
        assertEquals(u.reason(), e.getMessage());
    }

    @Test
    void anAvailableApiIsReturned() {
        Object api = new Object();
        assertSame(api, new Availability.Available<>(api).orElseThrow(IllegalStateException::new));
    }

    @Test
    void reasonsAreOneLine() {
        assertThrows(IllegalArgumentException.class, () -> new Availability.Unavailable<>("two\nlines"));
        assertThrows(IllegalArgumentException.class, () -> new Availability.Unavailable<>(" "));
    }

    @Test
    void outParamsReadWhatTheCallWrote() {
        assertEquals(42, OutParams.i32(p -> p.set(java.lang.foreign.ValueLayout.JAVA_INT, 0, 42)));
        assertEquals(1L << 40, OutParams.i64(p -> p.set(java.lang.foreign.ValueLayout.JAVA_LONG, 0, 1L << 40)));
        assertEquals("gfx90a", OutParams.string(16, p -> p.setString(0, "gfx90a")));
        long[] pair = OutParams.i64Pair((a, b) -> {
            a.set(java.lang.foreign.ValueLayout.JAVA_LONG, 0, 1);
            b.set(java.lang.foreign.ValueLayout.JAVA_LONG, 0, 2);
        });
        assertEquals(1, pair[0]);
        assertEquals(2, pair[1]);
        assertEquals(MemorySegment.NULL, OutParams.address(p -> { }));
        assertEquals(null, CStrings.read(MemorySegment.NULL));
    }

    @Test
    void deviceMemoryRejectsImpossibleReadings() {
        assertEquals(3, new DeviceMemory(5, 8).usedBytes());
        assertThrows(IllegalArgumentException.class, () -> new DeviceMemory(9, 8));
    }
}
