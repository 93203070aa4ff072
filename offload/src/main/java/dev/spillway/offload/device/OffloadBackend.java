package dev.spillway.offload.device;

import dev.spillway.engine.backend.Backend;

/**
 * A backend that runs offloaded layers on one device, as {@code Model.load}, the planner and live
 * spill see it: the shared-kernel {@link DeviceBackend} (OpenCL, CUDA, HIP) or another device
 * backend that a {@link dev.spillway.offload.DeviceApi} opens (TornadoVM's, in the optional
 * {@code tornado} module).
 */
public interface OffloadBackend extends Backend {

    /** The device, as discovery reported it. */
    DeviceInfo device();

    /** The most this backend allocates: min(device memory, the user's limit). */
    long budget();

    /** The API's fixed cost on the device measured when it was opened; -1 when not measured. */
    long runtimeBytes();

    /** Bytes of scratch held now, shared by every context (what a new context's scratch need not add). */
    long scratchBytes();
}
