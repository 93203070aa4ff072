package dev.spillway;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.spillway.api.Context;
import dev.spillway.api.ContextParams;
import dev.spillway.api.Model;
import dev.spillway.api.ModelParams;
import dev.spillway.bindings.GpuMemoryError;
import dev.spillway.engine.backend.Backend;
import dev.spillway.engine.memory.MemoryAccount;
import dev.spillway.engine.sampling.SamplingParams;
import dev.spillway.offload.DeviceApi;
import dev.spillway.offload.Devices;
import dev.spillway.offload.device.DeviceBackend;
import dev.spillway.offload.device.DeviceBuffer;
import dev.spillway.offload.device.DeviceInfo;
import dev.spillway.offload.device.DeviceRuntime;
import dev.spillway.offload.device.KernelArgs;
import dev.spillway.offload.opencl.OpenClDevices;
import dev.spillway.offload.opencl.OpenClTestSupport;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongPredicate;

/** Shared helpers of the scheduler tests (PoCL devices, greedy runs, fault injection). */
final class SchedulerTesting {
    static final String PROMPT = "Once upon a time";

    private SchedulerTesting() {
    }

    /** A greedy context of {@code n} tokens (batch 32). */
    static ContextParams greedyContext(int n) {
        return ContextParams.defaults().withContextSize(n).withBatchSize(32).withSampling(SamplingParams.greedy());
    }

    /** One CPU thread, the planned context = {@code ctx}. */
    static ModelParams base(ContextParams ctx) {
        return ModelParams.defaults().withThreads(1).withPlannedContext(ctx);
    }

    static ModelParams cpuOnly(ContextParams ctx) {
        return base(ctx).withGpuLayers(0);
    }

    static ModelParams onOpenCl(ContextParams ctx, int gpuLayers) {
        return base(ctx).withDevice("opencl").withGpuLayers(gpuLayers);
    }

    static String greedy(Model model, ContextParams ctx, String prompt, int tokens) {
        try (Context c = model.newContext(ctx)) {
            return c.generate(prompt, tokens).text();
        }
    }

    static List<DeviceBackend> devices(Model model) {
        List<DeviceBackend> out = new ArrayList<>();
        for (Backend b : model.backends()) {
            if (b instanceof DeviceBackend d) {
                out.add(d);
            }
        }
        return out;
    }

    static DeviceBackend device(Model model) {
        List<DeviceBackend> d = devices(model);
        if (d.size() != 1) {
            throw new AssertionError("expected one device backend, got " + d);
        }
        return d.get(0);
    }

    static MemoryAccount account(Model model, String name) {
        return model.budgets().stream().filter(a -> a.name().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no budget " + name + " in " + model.budgets()));
    }

    static void assumeTwoOpenClDevices() {
        OpenClTestSupport.assumeOpenCl();
        List<String> ids = Devices.standard().discover().devices().stream().map(DeviceInfo::id).toList();
        assumeTrue(ids.contains("opencl:0") && ids.contains("opencl:1"),
                "skipping: two OpenCL devices needed (POCL_DEVICES=\"pthread pthread\"), found " + ids);
    }

    /**
     * OpenCL whose runtimes fail the device allocations {@code fail} selects (by the runtime's
     * allocation index, from 0) as a device out of memory would, and count every allocation.
     */
    static final class FaultyOpenCl implements DeviceApi {
        final DeviceApi real = new OpenClDevices();
        final LongPredicate fail;
        final AtomicLong allocations = new AtomicLong();
        final AtomicLong failures = new AtomicLong();
        final List<AtomicBoolean> closed = new ArrayList<>();

        FaultyOpenCl(LongPredicate fail) {
            this.fail = fail;
        }

        Devices devices() {
            return new Devices(List.of(this));
        }

        boolean allClosed() {
            synchronized (closed) {
                return closed.stream().allMatch(AtomicBoolean::get);
            }
        }

        @Override
        public String api() {
            return real.api();
        }

        @Override
        public Listing list() {
            return real.list();
        }

        @Override
        public DeviceRuntime open(int index) {
            DeviceRuntime r = real.open(index);
            AtomicBoolean isClosed = new AtomicBoolean();
            synchronized (closed) {
                closed.add(isClosed);
            }
            return new DeviceRuntime() {
                @Override
                public String api() {
                    return r.api();
                }

                @Override
                public DeviceInfo device() {
                    return r.device();
                }

                @Override
                public DeviceBuffer allocate(long bytes) {
                    long i = allocations.getAndIncrement();
                    if (fail.test(i)) {
                        failures.incrementAndGet();
                        throw new GpuMemoryError(r.api(), "CL_MEM_OBJECT_ALLOCATION_FAILURE", bytes,
                                "injected failure of allocation " + i + " (" + bytes + " bytes)");
                    }
                    return r.allocate(bytes);
                }

                @Override
                public void upload(DeviceBuffer dst, long dstOffset, MemorySegment src) {
                    r.upload(dst, dstOffset, src);
                }

                @Override
                public void download(DeviceBuffer src, long srcOffset, MemorySegment dst) {
                    r.download(src, srcOffset, dst);
                }

                @Override
                public Kernel kernel(String name) {
                    return r.kernel(name);
                }

                @Override
                public void launch(Kernel kernel, int[] groups, int[] groupSize, KernelArgs args) {
                    r.launch(kernel, groups, groupSize, args);
                }

                @Override
                public int maxGroupsY() {
                    return r.maxGroupsY();
                }

                @Override
                public void synchronize() {
                    r.synchronize();
                }

                @Override
                public void close() {
                    isClosed.set(true);
                    r.close();
                }
            };
        }
    }
}
