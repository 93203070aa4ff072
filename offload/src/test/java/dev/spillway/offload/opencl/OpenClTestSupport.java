package dev.spillway.offload.opencl;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.spillway.offload.device.DeviceBackend;
import java.util.Optional;
import java.util.Random;

/** Skips a test when this machine has no OpenCL (CI installs PoCL, so there it runs), and makes test data. */
final class OpenClTestSupport {
    private OpenClTestSupport() {
    }

    /** Skips the calling test, with the reason, unless an OpenCL library and at least one device are present. */
    static void assumeOpenCl() {
        Optional<String> missing = OpenClBackend.unavailableReason();
        assumeTrue(missing.isEmpty(), () -> "skipping: OpenCL is not available (" + missing.orElse("") + "); "
                + "ci/install-deps installs pocl-opencl-icd");
        assumeTrue(!OpenClBackend.devices().isEmpty(), "skipping: the OpenCL loader found no platform with a device; "
                + "ci/install-deps installs pocl-opencl-icd");
    }

    /** A backend on OpenCL device 0 (PoCL's CPU device here and in CI). */
    static DeviceBackend backend(DeviceBackend.Options options) {
        assumeOpenCl();
        return OpenClBackend.create(0, options);
    }

    static DeviceBackend backend() {
        return backend(DeviceBackend.Options.defaults());
    }

    /** {@code n} values drawn from N(0, sigma^2). */
    static float[] gaussian(Random r, int n, float sigma) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) r.nextGaussian() * sigma;
        }
        return a;
    }
}
