package dev.spillway.bindings.rocmsmi;

import static dev.spillway.bindings.rocmsmi.gen.RocmSmi.*;

import dev.spillway.bindings.Availability;
import dev.spillway.bindings.CStrings;
import dev.spillway.bindings.DeviceMemory;
import dev.spillway.bindings.NativeException;
import dev.spillway.bindings.OutParams;
import dev.spillway.bindings.StatusNames;

/**
 * An initialized ROCm SMI ({@code librocm_smi64}), for reading AMD device memory the way
 * {@code rocm-smi} does. Opened by {@link #open} ({@code rsmi_init}) and closed by {@link #close}
 * ({@code rsmi_shut_down}); every call's status goes through {@link #check}.
 */
public final class RocmSmiSession implements AutoCloseable {
    public static final String API = "rocm-smi";
    /** ROCm 6 (.so.7, .so.6), ROCm 5 (.so.5) and Debian 12's packaging of 5.2 (.so.1). */
    public static final String[] SONAMES = {"librocm_smi64.so.7", "librocm_smi64.so.6", "librocm_smi64.so.5", "librocm_smi64.so.1"};

    private static final StatusNames STATUS_NAMES =
            StatusNames.of(dev.spillway.bindings.rocmsmi.gen.RocmSmi.class, "rsmi_status_t", "RSMI_STATUS_");

    private boolean closed;

    private RocmSmiSession() {
    }

    /** Loads ROCm SMI and initializes it, or says why it cannot be used. */
    public static Availability<RocmSmiSession> open() {
        return Availability.open(RocmSmiSession::new, session -> check(rsmi_init(0), "rsmi_init"), SONAMES);
    }

    /** The status checker: throws {@link RocmSmiException} unless {@code status} is {@code RSMI_STATUS_SUCCESS}. */
    static void check(int status, String call) {
        if (status != RSMI_STATUS_SUCCESS()) {
            throw failure(status, CStrings.readOut(out -> rsmi_status_string(status, out)), call);
        }
    }

    /**
     * The exception for a failed call: pure, so tests can check it without the library.
     * {@code rsmi_status_string} gives prose, in some versions after {@code "RSMI_STATUS_X: "}; the
     * name comes from the generated constants.
     */
    static NativeException failure(int status, String text, String call) {
        String name = STATUS_NAMES.name(status);
        String prose = text == null ? "" : text.startsWith(name) ? text.substring(name.length()).replaceFirst("^[:\\s]+", "") : text;
        prose = prose.replaceAll("\\s+", " ").strip();
        return new RocmSmiException(name, status, call + ": " + name + (prose.isEmpty() ? "" : " (" + prose + ")"));
    }

    public int deviceCount() {
        ensureOpen();
        return OutParams.i32(out -> check(rsmi_num_monitor_devices(out), "rsmi_num_monitor_devices"));
    }

    public String name(int index) {
        ensureOpen();
        return OutParams.string(128, buf -> check(rsmi_dev_name_get(index, buf, 128), "rsmi_dev_name_get"));
    }

    /** The device's PCI address as {@code domain:bus:device.function}, e.g. {@code 0000:03:00.0}. */
    public String pciBusId(int index) {
        ensureOpen();
        long bdf = OutParams.i64(out -> check(rsmi_dev_pci_id_get(index, out), "rsmi_dev_pci_id_get"));
        return formatBdf(bdf);
    }

    /** ROCm SMI's BDFID ((domain << 32) | (bus << 8) | (device << 3) | function) as {@code 0000:03:00.0}. */
    static String formatBdf(long bdf) {
        return String.format("%04x:%02x:%02x.%x", bdf >>> 32, (bdf >>> 8) & 0xff, (bdf >>> 3) & 0x1f, bdf & 0x7);
    }

    /** VRAM of device {@code index}: total and what is not in use. */
    public DeviceMemory memory(int index) {
        ensureOpen();
        int vram = RSMI_MEM_TYPE_VRAM();
        long total = OutParams.i64(out -> check(rsmi_dev_memory_total_get(index, vram, out), "rsmi_dev_memory_total_get"));
        long used = OutParams.i64(out -> check(rsmi_dev_memory_usage_get(index, vram, out), "rsmi_dev_memory_usage_get"));
        return new DeviceMemory(Math.max(0, total - used), total);
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("ROCm SMI session is closed");
        }
    }

    /** {@code rsmi_shut_down}. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            check(rsmi_shut_down(), "rsmi_shut_down");
        }
    }
}
