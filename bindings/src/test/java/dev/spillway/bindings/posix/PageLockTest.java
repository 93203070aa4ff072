package dev.spillway.bindings.posix;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class PageLockTest {
    @Test
    void locksAndUnlocksASmallAllocation() {
        // 64 KiB is far below the default RLIMIT_MEMLOCK (8 MiB), so this must succeed for any user.
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment segment = arena.allocate(64 * 1024, 4096);
            assertEquals(Optional.empty(), PageLock.lock(segment));
            assertEquals(Optional.empty(), PageLock.unlock(segment));
        }
    }

    @Test
    void aRefusalIsReportedWithErrnoAndTheLimit() {
        // Address 4096 is never mapped in a Linux process: mlock fails with ENOMEM.
        MemorySegment unmapped = MemorySegment.ofAddress(4096).reinterpret(4096);
        Optional<String> reason = PageLock.lock(unmapped);
        assertTrue(reason.isPresent(), "locking unmapped memory must fail");
        assertTrue(reason.get().startsWith("mlock of 4096 bytes failed: "), reason.get());
        assertTrue(reason.get().contains("errno 12"), "ENOMEM expected: " + reason.get());
    }
}
