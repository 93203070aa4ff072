package dev.spillway.tornado;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The heaps' first-fit allocator: live ranges never overlap, and the high-water mark is exact. */
class HeapAllocatorTest {

    /** Holes [10,11), [20,25), [30,39) around a live [25,30): the split of the middle hole keeps its own length. */
    @Test
    void splittingAHoleKeepsItsLength() {
        HeapAllocator h = new HeapAllocator(1000);
        long[] at = new long[6];
        long[] sizes = {10, 1, 9, 5, 5, 9};
        for (int i = 0; i < sizes.length; i++) {
            at[i] = h.allocate(sizes[i]);
        }
        long tail = h.allocate(1);   // keeps the last hole from merging into the top
        h.free(at[1], 1);
        h.free(at[3], 5);
        h.free(at[5], 9);
        assertEquals(20, h.allocate(3));
        assertEquals(30, h.allocate(6), "[23,25) is too small; [25,30) is live");
        assertTrue(tail > 0);
    }

    @Test
    void randomAllocationsNeverOverlapAndTheMarkIsExact() {
        Random r = new Random(1);
        HeapAllocator h = new HeapAllocator(1 << 20);
        List<long[]> live = new ArrayList<>();
        for (int step = 0; step < 20000; step++) {
            if (!live.isEmpty() && r.nextInt(3) == 0) {
                long[] x = live.remove(r.nextInt(live.size()));
                h.free(x[0], x[1]);
            } else {
                long size = 1 + r.nextInt(40);
                long off = h.allocate(size);
                for (long[] y : live) {
                    assertTrue(off + size <= y[0] || y[0] + y[1] <= off, "overlap at step " + step);
                }
                live.add(new long[] {off, size});
            }
            long used = live.stream().mapToLong(x -> x[1]).sum();
            long top = live.stream().mapToLong(x -> x[0] + x[1]).max().orElse(0);
            assertEquals(used, h.used());
            assertEquals(top, h.end(), "the mark is the top of the highest live range");
        }
    }
}
