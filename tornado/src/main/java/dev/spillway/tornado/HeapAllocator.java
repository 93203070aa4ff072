package dev.spillway.tornado;

import java.util.Map;
import java.util.TreeMap;

/**
 * First-fit allocation of ranges of one heap (offsets in the heap's units: bytes or floats), with
 * freed ranges merged with their neighbours. {@link #end()} is the high-water mark: the capacity a
 * heap needs to hold every range handed out so far. Not thread-safe (the backend's lock guards it).
 */
final class HeapAllocator {
    private final long limit;
    private final TreeMap<Long, Long> free = new TreeMap<>(); // offset -> length
    private long end;
    private long used;

    /** @param limit the most units the heap may span (TornadoVM arrays are indexed by int) */
    HeapAllocator(long limit) {
        this.limit = limit;
    }

    /** The offset of a new range of {@code size} units, or -1 when the heap cannot span it. */
    long allocate(long size) {
        if (size <= 0) {
            throw new IllegalArgumentException("cannot allocate " + size + " units");
        }
        for (Map.Entry<Long, Long> e : free.entrySet()) {
            long len = e.getValue();
            if (len >= size) {
                long off = e.getKey();
                free.remove(off); // read the entry before: a TreeMap may reuse its node for another entry
                if (len > size) {
                    free.put(off + size, len - size);
                }
                used += size;
                return off;
            }
        }
        if (end + size > limit) {
            return -1;
        }
        long off = end;
        end += size;
        used += size;
        return off;
    }

    /** Gives back a range {@link #allocate} returned. */
    void free(long offset, long size) {
        long off = offset;
        long len = size;
        Map.Entry<Long, Long> before = free.floorEntry(off);
        if (before != null && before.getKey() + before.getValue() == off) {
            off = before.getKey();
            len += before.getValue();
            free.remove(before.getKey());
        }
        Long after = free.containsKey(offset + size) ? offset + size : null;
        if (after != null) {
            len += free.remove(after);
        }
        if (off + len == end) {
            end = off; // the top of the heap shrinks back
        } else {
            free.put(off, len);
        }
        used -= size;
    }

    /** The high-water mark: units a heap must hold for every live range. */
    long end() {
        return end;
    }

    /** Units in live ranges. */
    long used() {
        return used;
    }
}
