package dev.spillway.offload.opencl;

import dev.spillway.engine.backend.Backend;
import dev.spillway.offload.contract.BackendFixture;

/** The fixture ({@link BackendFixture}) on OpenCL's first device (PoCL in CI); skipped where there is none. */
abstract class DeviceAndCpu extends BackendFixture {

    @Override
    protected Backend openDevice() {
        return OpenClTestSupport.backend();
    }
}
