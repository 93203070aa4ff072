package dev.spillway.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

class WorkerPoolTest {

    @Test
    void everyItemRunsExactlyOnceOverManyDispatches() {
        try (WorkerPool pool = new WorkerPool(4, "test-pool-")) {
            for (int round = 0; round < 300; round++) {
                int n = new int[] {0, 1, 2, 3, 7, 100, 1000}[round % 7];
                AtomicIntegerArray hits = new AtomicIntegerArray(Math.max(n, 1));
                Set<Integer> workers = ConcurrentHashMap.newKeySet();
                pool.parallelFor(n, (item, worker) -> {
                    hits.incrementAndGet(item);
                    workers.add(worker);
                });
                for (int i = 0; i < n; i++) {
                    assertEquals(1, hits.get(i), "item " + i + " of " + n + " in round " + round);
                }
                for (int w : workers) {
                    assertTrue(w >= 0 && w < 4, "worker index " + w);
                }
            }
        }
    }

    @Test
    void parkedWorkersWakeUpForTheNextDispatch() throws InterruptedException {
        try (WorkerPool pool = new WorkerPool(3, "test-pool-")) {
            for (int round = 0; round < 3; round++) {
                Thread.sleep(20); // well past the spin window: the workers park
                Set<Integer> workers = ConcurrentHashMap.newKeySet();
                AtomicIntegerArray hits = new AtomicIntegerArray(64);
                pool.parallelFor(64, (item, worker) -> {
                    hits.incrementAndGet(item);
                    workers.add(worker);
                    sleepQuietly(1); // long enough for every worker to join in
                });
                for (int i = 0; i < 64; i++) {
                    assertEquals(1, hits.get(i));
                }
                assertEquals(Set.of(0, 1, 2), workers, "caller and both workers took items");
            }
        }
    }

    @Test
    void aFailureInAnyThreadIsRethrownAndThePoolStaysUsable() {
        try (WorkerPool pool = new WorkerPool(3, "test-pool-")) {
            IllegalStateException boom = new IllegalStateException("boom");
            IllegalStateException thrown = assertThrows(IllegalStateException.class, () -> pool.parallelFor(50, (item, worker) -> {
                if (item == 37) {
                    throw boom;
                }
            }));
            assertSame(boom, thrown);
            AtomicIntegerArray hits = new AtomicIntegerArray(50);
            pool.parallelFor(50, (item, worker) -> hits.incrementAndGet(item));
            for (int i = 0; i < 50; i++) {
                assertEquals(1, hits.get(i));
            }
        }
    }

    @Test
    void workersAreNamedDaemonsAndCloseStopsThem() {
        Set<Thread> before = new HashSet<>(Thread.getAllStackTraces().keySet());
        WorkerPool pool = new WorkerPool(3, "spillway-cpu-");
        Set<Thread> started = new HashSet<>(Thread.getAllStackTraces().keySet());
        started.removeAll(before);
        started.removeIf(t -> !t.getName().startsWith("spillway-cpu-"));
        assertEquals(Set.of("spillway-cpu-1", "spillway-cpu-2"), names(started));
        for (Thread t : started) {
            assertTrue(t.isDaemon(), t.getName());
        }
        pool.close();
        for (Thread t : started) {
            assertFalse(t.isAlive(), t.getName() + " still running");
        }
        assertThrows(IllegalStateException.class, () -> pool.parallelFor(2, (i, w) -> { }));
        assertThrows(IllegalArgumentException.class, () -> new WorkerPool(0, "x"));
    }

    private static Set<String> names(Set<Thread> threads) {
        Set<String> names = new HashSet<>();
        threads.forEach(t -> names.add(t.getName()));
        return names;
    }

    private static void sleepQuietly(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
