package dev.spillway.tornado;

import dev.spillway.engine.backend.Backend;
import dev.spillway.offload.contract.BackendOpsContract;

/**
 * The TornadoVM backend against the CPU, op by op, in every weight and KV type, with the same
 * shapes and tolerances as the shared-kernel backend ({@link BackendOpsContract}).
 */
class TornadoOpsTest extends BackendOpsContract {

    @Override
    protected Backend openDevice() {
        return TornadoTesting.backend();
    }

    @Override
    protected String namePrefix() {
        return "tornado:";
    }
}
