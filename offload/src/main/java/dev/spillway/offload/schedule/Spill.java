package dev.spillway.offload.schedule;

import dev.spillway.api.MemoryInfo;
import dev.spillway.api.MemoryLimitException;
import dev.spillway.cpu.CpuBackend;
import dev.spillway.engine.backend.Backend;
import dev.spillway.engine.backend.BackendMemoryException;
import dev.spillway.engine.memory.MemoryAccount;
import dev.spillway.engine.model.LlamaConfig;
import dev.spillway.engine.model.LlamaWeights;
import dev.spillway.engine.model.LlamaModel;
import dev.spillway.engine.model.Placement;
import dev.spillway.engine.model.Workspace;
import dev.spillway.offload.device.OffloadBackend;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;

/**
 * Live spill: makes room on the devices for a new context after the load. Before the context is
 * allocated, its share on each backend is estimated ({@link Workspace#estimate}); the host must
 * hold its share, and a device without room gives layers to the CPU, the output head first, then
 * its lowest layers, until the rest fits. Moving a layer frees its device weights (the CPU's are
 * views of the mapping) and takes every open context's KV rows to the host
 * ({@link LlamaModel#moveToBackend}). If a device still runs out while the context is allocated,
 * {@link #afterFailure} spills one more unit per try.
 */
public final class Spill {
    private static final System.Logger LOG = System.getLogger("dev.spillway");

    private final LlamaModel llama;
    private final CpuBackend cpu;
    private final List<OffloadBackend> devices;
    private final boolean strict;

    public Spill(LlamaModel llama, CpuBackend cpu, List<OffloadBackend> devices, boolean strict) {
        this.llama = llama;
        this.cpu = cpu;
        this.devices = devices;
        this.strict = strict;
    }

    /** Layers (and perhaps the output head) to move off one device, with the line that says why. */
    private record Planned(OffloadBackend device, List<Integer> layers, boolean output, String why) {
    }

    /**
     * Spills from each device that cannot hold a context of {@code shape}, after checking that the
     * host can hold its share (and the KV rows the open contexts would bring along). Nothing moves
     * when the host cannot.
     *
     * @return a line saying what moved, or null when nothing did
     * @throws MemoryLimitException if the host cannot hold the context (naming the bytes, the budget
     *         and a context size that would fit), or a device cannot and spilling is off
     */
    public String makeRoomFor(Workspace.Shape shape) {
        LlamaConfig c = llama.config();
        Placement p = llama.placement();
        List<Planned> plan = new ArrayList<>();
        for (OffloadBackend d : devices) {
            int k = p.layersOn(d);
            boolean out = p.outputBackend() == d;
            if (k == 0 && !out) {
                continue;
            }
            long need = need(d, shape, k, out);
            long headroom = d.memory().headroomBytes();
            if (need <= headroom) {
                continue;
            }
            if (strict) {
                d.memory().check(need, "a new context of " + shape.contextSize() + " tokens (KV cache, activations); "
                        + "spilling layers to the CPU is off (--no-fallback)");
            }
            // The output head first, then the device's lowest layers, until the rest fits.
            List<Integer> layers = new ArrayList<>();
            long freed = 0;
            if (out) {
                freed += llama.weights().outputAllocatedBytes();
                for (Workspace ws : llama.workspaces()) {
                    freed += outputBufferBytes(d, ws.shape());
                }
            }
            for (int i = 0; i < c.layerCount() && need(d, shape, k - layers.size(), false) > headroom + freed; i++) {
                if (p.layer(i) != d) {
                    continue;
                }
                layers.add(i);
                freed += llama.weights().layer(i).allocatedBytes();
                for (Workspace ws : llama.workspaces()) {
                    Workspace.Shape s = ws.shape();
                    freed += d.sizing().kvBytes(s.contextSize(), c.kvDim(), s.keyType(), s.valueType());
                }
            }
            plan.add(new Planned(d, layers, out, "a new context needs " + MemoryInfo.human(need) + " on " + d.name() + ", "
                    + MemoryInfo.human(headroom) + " left under its limit"));
        }
        int toCpu = plan.stream().mapToInt(m -> m.layers().size()).sum();
        boolean outputToCpu = plan.stream().anyMatch(Planned::output);
        // One check for both: the rows the open contexts bring along and the new context's share.
        List<Integer> moving = plan.stream().flatMap(m -> m.layers().stream()).toList();
        checkHost(shape, p.layersOn(cpu) + toCpu, p.outputBackend() == cpu || outputToCpu,
                broughtAlong(toCpu, outputToCpu) + cpuWeightBytes(moving, outputToCpu));
        List<String> lines = new ArrayList<>();
        for (Planned m : plan) {
            lines.add(move(m.device(), m.layers(), m.output(), m.why()));
        }
        return lines.isEmpty() ? null : String.join("; ", lines);
    }

    /**
     * A device ran out while the context was being allocated although the estimate fit (another
     * process took memory, say): spills one more unit from it.
     *
     * @return a line saying what moved, or null when the failure cannot be helped this way (the
     *         caller rethrows it)
     */
    public String afterFailure(BackendMemoryException e, int round) {
        OffloadBackend d = devices.stream().filter(x -> x.name().equals(e.backend())).findFirst().orElse(null);
        if (d == null || strict) {
            return null;
        }
        Placement p = llama.placement();
        String why = "allocating the context failed (" + e.getMessage() + ")";
        if (p.outputBackend() == d) {
            cpu.memory().check(broughtAlong(0, true) + cpuWeightBytes(List.of(), true),
                    "the output head and the open contexts' output buffers, spilled from " + d.name());
            return move(d, List.of(), true, why);
        }
        for (int i = 0; i < p.layerBackends().size(); i++) {
            if (p.layer(i) == d) {
                cpu.memory().check(broughtAlong(1, false) + cpuWeightBytes(List.of(i), false),
                        "layer " + i + " and the KV rows of the open contexts, spilled from " + d.name());
                return move(d, List.of(i), false, why);
            }
        }
        return null;
    }

    private String move(OffloadBackend d, List<Integer> layers, boolean output, String why) {
        Placement after;
        try {
            after = llama.moveToBackend(layers, output, cpu);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        String line = "spill: " + why + ": moved " + describe(layers, output) + " to the cpu; " + d.name() + " now runs "
                + after.layersOn(d) + " of " + after.layerBackends().size() + " layers";
        LOG.log(Level.WARNING, line);
        return line;
    }

    /** What the CPU allocates for these layers' (and the output head's) weights: its packed copies; views cost nothing. */
    private long cpuWeightBytes(List<Integer> layers, boolean output) {
        try {
            long bytes = output ? LlamaWeights.loadedBytes(cpu.sizing(), llama.file(), LlamaWeights.outputTensors(llama.config())) : 0;
            for (int i : layers) {
                bytes += LlamaWeights.loadedBytes(cpu.sizing(), llama.file(), LlamaWeights.layerTensors(llama.config(), i));
            }
            return bytes;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Host bytes the open contexts bring along when {@code layers} layers (and the output head, if {@code output}) move to the CPU. */
    private long broughtAlong(int layers, boolean output) {
        LlamaConfig c = llama.config();
        boolean cpuHasLayers = llama.placement().layersOn(cpu) > 0;
        long bytes = 0;
        for (Workspace ws : llama.workspaces()) {
            Workspace.Shape s = ws.shape();
            bytes += Workspace.estimate(cpu.sizing(), c, s, layers, false).kvCacheBytes();
            if (!cpuHasLayers && layers > 0) {
                bytes += Workspace.estimate(cpu.sizing(), c, s, 1, false).activationBytes();
            }
            if (output) {
                bytes += outputBufferBytes(cpu, s);
            }
        }
        return bytes;
    }

    /** The host's share of a new context, with {@code layers} layers on the CPU, checked before anything is allocated. */
    private void checkHost(Workspace.Shape shape, int layers, boolean output, long broughtAlong) {
        LlamaConfig c = llama.config();
        Workspace.Estimate share = Workspace.estimate(cpu.sizing(), c, shape, layers, output);
        MemoryAccount host = cpu.memory();
        try {
            host.check(share.total() + broughtAlong, "a context of " + shape.contextSize() + " tokens (KV cache " + shape.keyType() + "/"
                    + shape.valueType() + ", activations)" + (broughtAlong > 0 ? " and what moves to the CPU with it (KV rows, repacked weights)" : ""));
        } catch (MemoryLimitException e) {
            long perToken = layers * cpu.sizing().kvBytes(1, c.kvDim(), shape.keyType(), shape.valueType());
            long fit = perToken > 0 ? Math.max(0, (host.headroomBytes() - share.activationBytes() - broughtAlong) / perToken) : 0;
            String hint = perToken > 0 ? "; use a smaller -c (about " + fit + " tokens fit)" : "";
            throw new MemoryLimitException(e.backend(), e.what(), e.requestedBytes(), e.usedBytes(), e.budgetBytes(),
                    e.getMessage() + hint);
        }
    }

    /** What a new context of {@code shape} adds on {@code d} with {@code layers} layers (and the output head, if {@code output}). */
    private long need(OffloadBackend d, Workspace.Shape shape, int layers, boolean output) {
        long need = Workspace.estimate(d.sizing(), llama.config(), shape, layers, output).total();
        if (layers > 0) {
            long scratch = d.sizing().scratchBytes(Workspace.scratchShape(llama.config(), shape, 1));
            need += Math.max(0, scratch - d.scratchBytes());
        }
        return need;
    }

    /** Bytes of the output head's buffers of a context of {@code context} on a backend of {@code b}'s sizing. */
    private long outputBufferBytes(Backend b, Workspace.Shape context) {
        long sum = 0;
        for (int[] shape : Workspace.outputBufferShapes(llama.config(), context)) {
            sum += b.sizing().activationBytes(shape[0], shape[1]);
        }
        return sum;
    }

    private static String describe(List<Integer> layers, boolean output) {
        String l = layers.isEmpty() ? "" : layers.size() == 1 ? "layer " + layers.get(0)
                : "layers " + layers.get(0) + "-" + layers.get(layers.size() - 1);
        if (output) {
            return l.isEmpty() ? "the output head" : l + " and the output head";
        }
        return l;
    }
}
