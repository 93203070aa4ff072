package dev.spillway.cpu;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed pool of daemon workers ({@code spillway-cpu-1 ..}) that runs {@link #parallelFor} with the
 * calling thread taking part as worker 0. Built for many small dispatches (a generated token runs a
 * few hundred ops): no allocation per call, items are claimed from one atomic counter, and idle
 * workers spin briefly on a volatile epoch before they park. Spinning threads yield after a few
 * dozen polls, so that more threads than free cores (a busy or shared machine) slow an op down a
 * little instead of stalling it until the scheduler's next time slice.
 *
 * <p>One {@code parallelFor} at a time: the backend serializes ops. The caller returns only when
 * every worker has finished the current call, so the next call can reuse the shared fields.
 */
final class WorkerPool implements AutoCloseable {

    /** The work of one {@link #parallelFor}: item {@code item}, run by worker {@code worker} (0 = caller). */
    @FunctionalInterface
    interface Body {
        void run(int item, int worker);
    }

    /** How long an idle worker spins (and yields) before it parks. */
    private static final long SPIN_NANOS = TimeUnit.MICROSECONDS.toNanos(200);
    /** Polls with {@link Thread#onSpinWait} before a spinning thread starts to yield between polls. */
    private static final int PURE_SPINS = 64;

    private final Worker[] workers;
    private final AtomicInteger next = new AtomicInteger();
    private final AtomicInteger pending = new AtomicInteger();
    private volatile long epoch;
    private volatile boolean stopping;
    private volatile Throwable failure;
    // Published to the workers by the volatile write of epoch; cleared after each call.
    private Body body;
    private int count;

    WorkerPool(int threads, String namePrefix) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        workers = new Worker[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = new Worker(i + 1);
            Thread t = new Thread(workers[i], namePrefix + (i + 1));
            t.setDaemon(true);
            workers[i].thread = t;
        }
        int started = 0;
        try {
            for (Worker w : workers) {
                w.thread.start();
                started++;
            }
        } catch (OutOfMemoryError | RuntimeException e) {
            // e.g. "unable to create native thread": stop the workers already running, then fail.
            stopping = true;
            for (int i = 0; i < started; i++) {
                LockSupport.unpark(workers[i].thread);
            }
            throw new IllegalStateException("could not start " + workers.length + " CPU worker threads (started "
                    + started + "): " + e.getMessage() + "; use fewer threads (-t)", e);
        }
    }

    /** Threads that run items: the workers plus the caller. */
    int threads() {
        return workers.length + 1;
    }

    /**
     * Runs {@code body.run(i, worker)} for every {@code i} in {@code [0, n)}, spread over the workers
     * and the calling thread; returns when all are done. An exception thrown by the body is
     * rethrown here (the first one; the remaining items may be skipped).
     */
    void parallelFor(int n, Body body) {
        if (stopping) {
            throw new IllegalStateException("worker pool is closed");
        }
        if (n <= 0) {
            return;
        }
        if (n == 1 || workers.length == 0) {
            for (int i = 0; i < n; i++) {
                body.run(i, 0);
            }
            return;
        }
        this.body = body;
        this.count = n;
        this.failure = null;
        next.set(0);
        pending.set(workers.length);
        epoch = epoch + 1; // only the (serialized) caller writes epoch
        for (Worker w : workers) {
            if (w.parked) {
                LockSupport.unpark(w.thread);
            }
        }
        try {
            runItems(0);
        } catch (Throwable t) {
            fail(t);
        }
        for (int spins = 0; pending.get() != 0; spins++) {
            pause(spins);
        }
        this.body = null;
        Throwable f = failure;
        if (f != null) {
            failure = null;
            if (f instanceof RuntimeException e) {
                throw e;
            }
            if (f instanceof Error e) {
                throw e;
            }
            throw new IllegalStateException(f);
        }
    }

    private void runItems(int worker) {
        Body b = body;
        int n = count;
        for (int i; (i = next.getAndIncrement()) < n; ) {
            if (failure != null) {
                return;
            }
            b.run(i, worker);
        }
    }

    private static void pause(int spins) {
        if (spins < PURE_SPINS) {
            Thread.onSpinWait();
        } else {
            Thread.yield();
        }
    }

    private void fail(Throwable t) {
        if (failure == null) {
            failure = t;
        }
    }

    /** Stops the workers (they finish nothing new) and waits briefly for them to exit. */
    @Override
    public void close() {
        if (stopping) {
            return;
        }
        stopping = true;
        for (Worker w : workers) {
            LockSupport.unpark(w.thread);
        }
        for (Worker w : workers) {
            try {
                w.thread.join(TimeUnit.SECONDS.toMillis(5));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private final class Worker implements Runnable {
        private final int index;
        private Thread thread;
        private volatile boolean parked;

        Worker(int index) {
            this.index = index;
        }

        @Override
        public void run() {
            long seen = 0;
            while (true) {
                long e = awaitEpoch(seen);
                if (e < 0) {
                    return;
                }
                seen = e;
                try {
                    runItems(index);
                } catch (Throwable t) {
                    fail(t);
                }
                pending.decrementAndGet();
            }
        }

        /** Waits for an epoch other than {@code seen}; -1 when the pool stops. */
        private long awaitEpoch(long seen) {
            long start = System.nanoTime();
            for (int spins = 0; ; spins++) {
                long e = epoch;
                if (e != seen) {
                    return e;
                }
                if (stopping) {
                    return -1;
                }
                if (spins < PURE_SPINS || System.nanoTime() - start < SPIN_NANOS) {
                    pause(spins);
                    continue;
                }
                // Dekker with the dispatcher: it writes epoch then reads parked; we write parked then
                // read epoch, so at least one of us sees the other's write.
                parked = true;
                while (epoch == seen && !stopping) {
                    LockSupport.park(this);
                }
                parked = false;
                start = System.nanoTime();
                spins = 0;
            }
        }
    }
}
