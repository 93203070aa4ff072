package dev.spillway.offload.metrics;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * Reads a {@link MemoryProbe} at a fixed interval on a daemon thread while something runs, and keeps
 * the first reading, each field's peak and the last reading. {@link #start()} reads once on the
 * caller's thread (the "before" reading) and starts the thread; {@link #stop()} ends and joins the
 * thread, reads once more ("after") and returns the {@link Summary}. {@link #close()} stops a running
 * sampler. The probe is not closed here: whoever opened it owns it.
 */
public final class MemorySampler implements AutoCloseable {
    /**
     * What a run of the sampler saw.
     *
     * @param source  the probe's source
     * @param before  the reading at {@link #start()}; null when the probe gave none
     * @param peak    each field's maximum over every reading; null when there was none
     * @param after   the reading at {@link #stop()}; null when the probe gave none
     * @param samples readings taken (before, the thread's and after)
     * @param reason  why readings are missing (the probe's last reason); null when there are readings
     */
    public record Summary(String source, Reading before, Reading peak, Reading after, int samples, String reason) {
        public Summary(String source, Reading before, Reading peak, Reading after, int samples) {
            this(source, before, peak, after, samples, null);
        }

        /** Peak used bytes less the used bytes before, or -1 without both readings. */
        public long deltaBytes() {
            return before == null || peak == null ? -1 : peak.usedBytes() - before.usedBytes();
        }
    }

    private final MemoryProbe probe;
    private final long intervalNanos;
    private final Object lock = new Object();
    private Thread thread;
    private volatile boolean running;
    // Guarded by lock.
    private Reading before;
    private Reading peak;
    private int samples;

    public MemorySampler(MemoryProbe probe, Duration interval) {
        this.probe = Objects.requireNonNull(probe, "probe");
        if (interval.isNegative() || interval.isZero()) {
            throw new IllegalArgumentException("sampling interval must be positive, got " + interval);
        }
        this.intervalNanos = interval.toNanos();
    }

    /** Takes the "before" reading and starts sampling. */
    public void start() {
        synchronized (lock) {
            if (thread != null) {
                throw new IllegalStateException("sampler already started");
            }
            before = probe.read().orElse(null);
            peak = before;
            samples = before == null ? 0 : 1;
            running = true;
            thread = Thread.ofPlatform().daemon().name("spillway-memory-sampler").unstarted(this::loop);
            thread.start();
        }
    }

    private void loop() {
        while (running) {
            java.util.concurrent.locks.LockSupport.parkNanos(intervalNanos);
            if (!running || Thread.currentThread().isInterrupted()) {
                return;
            }
            record(probe.read());
        }
    }

    private void record(Optional<Reading> r) {
        synchronized (lock) {
            if (r.isPresent()) {
                peak = peak == null ? r.get() : peak.max(r.get());
                samples++;
            }
        }
    }

    /** Ends sampling, takes the "after" reading and returns what was seen. */
    public Summary stop() {
        Thread t;
        synchronized (lock) {
            if (thread == null) {
                throw new IllegalStateException("sampler not started");
            }
            t = thread;
        }
        halt(t);
        Optional<Reading> after = probe.read();
        record(after);
        synchronized (lock) {
            thread = null;
            String reason = before == null || after.isEmpty() ? probe.reason().orElse("no reading") : null;
            return new Summary(probe.source(), before, peak, after.orElse(null), samples, reason);
        }
    }

    private void halt(Thread t) {
        running = false;
        t.interrupt();
        boolean interrupted = false;
        while (true) {
            try {
                t.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** Whether the sampling thread is running. */
    public boolean running() {
        synchronized (lock) {
            return thread != null && thread.isAlive();
        }
    }

    @Override
    public void close() {
        Thread t;
        synchronized (lock) {
            t = thread;
            thread = null;
        }
        if (t != null) {
            halt(t);
        }
    }
}
