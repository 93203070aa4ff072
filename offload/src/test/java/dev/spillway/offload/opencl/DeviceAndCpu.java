package dev.spillway.offload.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.spillway.cpu.CpuBackend;
import dev.spillway.offload.device.DeviceBackend;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;

/**
 * The fixture of tests that compare an OpenCL backend with the CPU backend op by op: one of each
 * for the class (the CPU on the exact float path, since the device multiplies the activations as
 * they are), and the handles a test allocates, closed after it. The device must be back at zero
 * bytes when the class ends.
 */
abstract class DeviceAndCpu {
    static DeviceBackend device;
    static CpuBackend cpu;
    final List<AutoCloseable> handles = new ArrayList<>();

    @BeforeAll
    static void open() {
        device = OpenClTestSupport.backend();
        cpu = new CpuBackend(new CpuBackend.Options(1).withExact(true));
    }

    @AfterAll
    static void close() {
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
    <T extends AutoCloseable> T own(T h) {
        handles.add(h);
        return h;
    }
}
