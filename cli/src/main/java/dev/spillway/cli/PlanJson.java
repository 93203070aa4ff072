package dev.spillway.cli;

import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import dev.spillway.offload.schedule.Estimate;
import dev.spillway.offload.schedule.LayerPlan;
import java.util.List;

/**
 * {@code spillway plan --json}: a {@link LayerPlan} in stable field names, apart from the schedule's
 * records so that those may change without changing the output. Sizes are bytes; {@code -1} means
 * unknown (a device's free memory or runtime cost the API cannot tell).
 *
 * @param request     what was asked: {@code auto}, {@code all} or a layer count
 * @param deviceUnits layers on devices, the output head counting as one more ({@code 0..layerCount+1})
 * @param layerCount  the model's layers
 * @param summary     one line, e.g. {@code 5 of 5 layers and the output head offloaded (5 + output on opencl:0)}
 * @param context     the context the plan reserves memory for (possibly shrunk by {@code auto})
 * @param parallel    how many contexts of that shape it reserves
 * @param devices     one per device, in the order layers flow through them
 * @param host        the host's share
 * @param layers      one per layer, by index: its backend and what it costs there
 * @param output      the output head (index -1)
 * @param reasons     why, one line per choice
 * @param fits        whether every device and the host fit
 */
@JsonPropertyOrder({"request", "deviceUnits", "layerCount", "summary", "context", "parallel", "devices", "host", "layers",
        "output", "reasons", "fits"})
record PlanJson(String request, int deviceUnits, int layerCount, String summary, Context context, int parallel,
                List<Device> devices, Host host, List<Layer> layers, Layer output, List<String> reasons, boolean fits) {

    /** The planned context: tokens, batch size and KV cache types ({@code F16}, {@code Q8_0}, ...). */
    @JsonPropertyOrder({"contextSize", "batchSize", "keyType", "valueType"})
    record Context(int contextSize, int batchSize, String keyType, String valueType) {
    }

    /**
     * One device. {@code estimatedBytes} = weights + KV cache + activations + scratch; it fits when
     * that is at most {@code availableBytes} (the budget less the margin, within what is free).
     * {@code ruleOfThumbBytes} is the usual rough figure (offloaded share of the file + KV cache), for comparison.
     */
    @JsonPropertyOrder({"id", "layerCount", "output", "estimatedBytes", "weightBytes", "kvCacheBytes", "activationBytes",
            "scratchBytes", "runtimeBytes", "ruleOfThumbBytes", "freeBytes", "budgetBytes", "marginBytes", "availableBytes", "fits"})
    record Device(String id, int layerCount, boolean output, long estimatedBytes, long weightBytes, long kvCacheBytes,
                  long activationBytes, long scratchBytes, long runtimeBytes, long ruleOfThumbBytes, long freeBytes,
                  long budgetBytes, long marginBytes, long availableBytes, boolean fits) {
    }

    /** The host: the same parts ({@code weightBytes} is 0 for a mapped file), its budget and what the plan may use. */
    @JsonPropertyOrder({"estimatedBytes", "weightBytes", "kvCacheBytes", "activationBytes", "scratchBytes", "budgetBytes",
            "availableBytes", "fits"})
    record Host(long estimatedBytes, long weightBytes, long kvCacheBytes, long activationBytes, long scratchBytes,
                long budgetBytes, long availableBytes, boolean fits) {
    }

    /** A layer (index -1: the output head) on {@code backend} ({@code cpu} or a device id). */
    @JsonPropertyOrder({"index", "backend", "weightBytes", "kvBytes"})
    record Layer(int index, String backend, long weightBytes, long kvBytes) {
    }

    static PlanJson of(LayerPlan plan) {
        var shape = plan.context();
        List<Device> devices = plan.devices().stream().map(d -> {
            Estimate e = d.estimate();
            return new Device(d.id(), d.layerCount(), d.output(), d.estimatedBytes(), e.weightBytes(), e.kvCacheBytes(),
                    e.activationBytes(), e.scratchBytes(), d.runtimeBytes(), d.ruleOfThumbBytes(), d.freeBytes(), d.budgetBytes(),
                    d.marginBytes(), d.availableBytes(), d.fits());
        }).toList();
        Estimate h = plan.host().estimate();
        Host host = new Host(h.totalBytes(), h.weightBytes(), h.kvCacheBytes(), h.activationBytes(), h.scratchBytes(),
                plan.host().budgetBytes(), plan.host().availableBytes(), plan.host().fits());
        List<Layer> layers = plan.layers().stream().map(PlanJson::layer).toList();
        return new PlanJson(plan.request(), plan.deviceUnits(), plan.layerCount(), plan.summary(),
                new Context(shape.contextSize(), shape.batchSize(), shape.keyType().name(), shape.valueType().name()),
                plan.parallel(), devices, host, layers, layer(plan.output()), plan.reasons(), plan.fits());
    }

    private static Layer layer(LayerPlan.Layer l) {
        return new Layer(l.index(), l.backend(), l.weightBytes(), l.kvBytes());
    }
}
