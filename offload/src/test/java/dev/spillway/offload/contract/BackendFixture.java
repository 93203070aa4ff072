package dev.spillway.offload.contract;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.spillway.cpu.CpuBackend;
import dev.spillway.engine.backend.Backend;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;

/**
 * The fixture of tests that compare a device backend with the CPU backend: one of each per class (the
 * CPU on the exact float path, since the device multiplies the activations as they are), and the
 * handles a test allocates, closed after it. The device must be back at zero bytes when the class ends.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class BackendFixture {
    protected Backend device;
    protected CpuBackend cpu;
    private final List<AutoCloseable> handles = new ArrayList<>();

    /** Opens the device backend under test (skipping the class, with the reason, where it cannot run). */
    protected abstract Backend openDevice();

    @BeforeAll
    void openBackends() {
        device = openDevice();
        cpu = new CpuBackend(new CpuBackend.Options(1).withExact(true));
    }

    @AfterAll
    void closeBackends() {
        if (device != null) {
            assertEquals(0, device.allocatedBytes(), "every handle the tests allocated was closed");
            device.close();
            device = null;
        }
        if (cpu != null) {
            cpu.close();
            cpu = null;
        }
    }

    @AfterEach
    void closeHandles() throws Exception {
        for (int i = handles.size() - 1; i >= 0; i--) {
            handles.get(i).close();
        }
        handles.clear();
    }

    /** Closes {@code h} after the test. */
    protected <T extends AutoCloseable> T own(T h) {
        handles.add(h);
        return h;
    }

}
