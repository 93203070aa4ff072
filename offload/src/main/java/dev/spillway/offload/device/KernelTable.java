package dev.spillway.offload.device;

import dev.spillway.engine.tensor.GgmlType;

/**
 * The kernels of the shared source that {@link DeviceBackend} launches, each looked up in its runtime
 * once, on first use; a kernel's name is built only then. Afterwards a lookup is an array read.
 * Not thread-safe: the backend uses it under its lock.
 */
final class KernelTable {
    /** The kernels that exist once, whatever the types. */
    enum Fixed {
        RMS_NORM("spw_rms_norm"), ROPE("spw_rope"), SWIGLU("spw_swiglu"), ADD("spw_add"), COPY_ROWS("spw_copy_rows"),
        ATTENTION_COMBINE("spw_attention_combine"), KV_STORE("spw_kv_store");

        final String kernel;

        Fixed(String kernel) {
            this.kernel = kernel;
        }
    }

    private static final int TYPES = GgmlType.values().length;

    private final DeviceRuntime runtime;
    private final DeviceRuntime.Kernel[] fixed = new DeviceRuntime.Kernel[Fixed.values().length];
    private final DeviceRuntime.Kernel[] matmul = new DeviceRuntime.Kernel[TYPES];          // by weight type
    private final DeviceRuntime.Kernel[] matvec = new DeviceRuntime.Kernel[TYPES];          // by weight type
    private final DeviceRuntime.Kernel[] attention = new DeviceRuntime.Kernel[TYPES * TYPES]; // by (key, value) type
    private final DeviceRuntime.Kernel[] attentionSplit = new DeviceRuntime.Kernel[TYPES * TYPES];

    KernelTable(DeviceRuntime runtime) {
        this.runtime = runtime;
    }

    DeviceRuntime.Kernel get(Fixed f) {
        DeviceRuntime.Kernel k = fixed[f.ordinal()];
        if (k == null) {
            k = fixed[f.ordinal()] = runtime.kernel(f.kernel);
        }
        return k;
    }

    /** {@code spw_matvec_<type>}: one token. */
    DeviceRuntime.Kernel matvec(GgmlType weight) {
        return byType(matvec, "spw_matvec_", weight);
    }

    /** {@code spw_matmul_<type>}: a batch, in tiles. */
    DeviceRuntime.Kernel matmul(GgmlType weight) {
        return byType(matmul, "spw_matmul_", weight);
    }

    private DeviceRuntime.Kernel byType(DeviceRuntime.Kernel[] slots, String prefix, GgmlType type) {
        DeviceRuntime.Kernel k = slots[type.ordinal()];
        if (k == null) {
            k = slots[type.ordinal()] = runtime.kernel(prefix + suffix(type));
        }
        return k;
    }

    /** {@code spw_attention_<key type>_<value type>}. */
    DeviceRuntime.Kernel attention(GgmlType key, GgmlType value) {
        return byPair(attention, "spw_attention_", key, value);
    }

    /** {@code spw_attention_split_<key type>_<value type>}: one token, one split of the keys. */
    DeviceRuntime.Kernel attentionSplit(GgmlType key, GgmlType value) {
        return byPair(attentionSplit, "spw_attention_split_", key, value);
    }

    private DeviceRuntime.Kernel byPair(DeviceRuntime.Kernel[] slots, String prefix, GgmlType key, GgmlType value) {
        int slot = key.ordinal() * TYPES + value.ordinal();
        DeviceRuntime.Kernel k = slots[slot];
        if (k == null) {
            k = slots[slot] = runtime.kernel(prefix + suffix(key) + "_" + suffix(value));
        }
        return k;
    }

    /** The kernel-name suffix of a type: {@code f32}, {@code q8_0}, {@code q4_k}, … */
    static String suffix(GgmlType type) {
        return type.name().toLowerCase(java.util.Locale.ROOT);
    }
}
