package dev.spillway.offload.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The sampler: before, peak and after readings, a fixed interval, and no thread left behind. */
class MemorySamplerTest {

    private static long samplerThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals("spillway-memory-sampler") && t.isAlive()).count();
    }

    @Test
    void keepsBeforePeakAndAfterAndStopsItsThread() throws InterruptedException {
        AtomicLong used = new AtomicLong(100);
        CounterProbe probe = new CounterProbe("counter", used::get, 1000);
        long threadsBefore = samplerThreads();
        try (MemorySampler s = new MemorySampler(probe, Duration.ofMillis(5))) {
            s.start();
            assertTrue(s.running());
            assertEquals(threadsBefore + 1, samplerThreads());
            used.set(700);   // a peak between the readings at start and stop
            Thread.sleep(100);
            used.set(300);
            Thread.sleep(50);
            MemorySampler.Summary sum = s.stop();
            assertFalse(s.running());
            assertEquals("counter", sum.source());
            assertEquals(100, sum.before().usedBytes());
            assertEquals(700, sum.peak().usedBytes());
            assertEquals(300, sum.after().usedBytes());
            assertEquals(600, sum.deltaBytes());
            assertTrue(sum.samples() >= 4, "sampled on its thread: " + sum.samples());
            assertNull(sum.reason());
        }
        assertEquals(threadsBefore, samplerThreads(), "the sampler's thread ended");
    }

    @Test
    void closeWithoutStopEndsTheThreadAndAPeakKeepsEachFieldsMaximum() {
        long threadsBefore = samplerThreads();
        AtomicLong n = new AtomicLong();
        MemoryProbe probe = new MemoryProbe() {
            @Override
            public String source() {
                return "gpu";
            }

            @Override
            public Optional<Reading> read() {
                long i = n.getAndIncrement();
                // utilization peaks early, power late, memory unknown-utilization readings in between
                return Optional.of(new Reading(10 * i, 100, i == 1 ? 90 : Double.NaN, i == 3 ? 250 : 50));
            }
        };
        MemorySampler s = new MemorySampler(probe, Duration.ofMillis(1));
        s.start();
        while (n.get() < 6) {
            Thread.onSpinWait();
        }
        MemorySampler.Summary sum = s.stop();
        assertEquals(90, sum.peak().utilizationPercent());
        assertEquals(250, sum.peak().powerWatts());
        assertTrue(sum.peak().usedBytes() >= 50);
        MemorySampler again = new MemorySampler(probe, Duration.ofMillis(1));
        again.start();
        again.close();
        again.close();
        assertEquals(threadsBefore, samplerThreads());
        assertThrows(IllegalStateException.class, again::stop);
    }

    @Test
    void aProbeWithoutReadingsGivesItsReason() {
        try (MemorySampler s = new MemorySampler(new NoProbe("no tool"), Duration.ofMillis(2))) {
            s.start();
            MemorySampler.Summary sum = s.stop();
            assertNull(sum.before());
            assertNull(sum.peak());
            assertEquals(0, sum.samples());
            assertEquals(-1, sum.deltaBytes());
            assertEquals("no tool", sum.reason());
        }
        assertThrows(IllegalArgumentException.class, () -> new MemorySampler(new NoProbe("x"), Duration.ZERO));
    }
}
