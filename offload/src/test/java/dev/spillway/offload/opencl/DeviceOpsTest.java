package dev.spillway.offload.opencl;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.engine.backend.Activations;
import dev.spillway.engine.backend.AttentionShape;
import dev.spillway.engine.backend.Backend;
import dev.spillway.engine.backend.KvCache;
import dev.spillway.engine.backend.ScratchShape;
import dev.spillway.engine.tensor.GgmlType;
import dev.spillway.engine.util.Closeables;
import dev.spillway.offload.contract.BackendOpsContract;
import dev.spillway.offload.device.DeviceBackend;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The shared-kernel device backend on OpenCL (PoCL in CI) against the CPU, op by op
 * ({@link BackendOpsContract}), plus the one-token attention's split over long contexts, which only
 * this backend has.
 */
class DeviceOpsTest extends BackendOpsContract {

    @Override
    protected Backend openDevice() {
        return OpenClTestSupport.backend();
    }

    @Override
    protected String namePrefix() {
        return "opencl:";
    }

    static Stream<Arguments> longContextCases() {
        return Stream.of(Arguments.of(GgmlType.F32, GgmlType.F32), Arguments.of(GgmlType.F16, GgmlType.F16),
                Arguments.of(GgmlType.BF16, GgmlType.Q8_0), Arguments.of(GgmlType.Q4_0, GgmlType.Q4_0));
    }

    /**
     * One token over more keys than one split of the device's attention (256): with the scratch
     * reserved for the context, the keys run in splits and a combination (flash-decoding). A prompt of
     * 256 tokens, single tokens at 256 (a split of one key) and 257, a batch of 340, then single
     * tokens at 598 and 599 (3 splits), each compared with the CPU within the tolerances above.
     */
    @ParameterizedTest(name = "K {0} V {1}")
    @MethodSource("longContextCases")
    void oneTokenOverALongContextMatchesTheCpu(GgmlType kType, GgmlType vType) {
        Random r = new Random(kType.id() * 7L + vType.id());
        AttentionShape shape = new AttentionShape(8, 2, 64, 0.125f);
        int nCtx = 700, batch = 340;
        try (DeviceBackend split = OpenClTestSupport.backend();
             KvCache cc = cpu.allocateKv(nCtx, shape.kvDim(), kType, vType);
             KvCache cd = split.allocateKv(nCtx, shape.kvDim(), kType, vType)) {
            split.reserveScratch(new ScratchShape(batch, nCtx, 32, shape.headCount(), shape.headDim(), shape.qDim(), 1));
            assertTrue(split.scratchBytes() >= 4L * 8 * 3 * 66, "partials for 3 splits of 8 heads");
            double tol = switch (GgmlType.valueOf(worse(kType, vType))) {
                case F32 -> 2e-5;
                case F16, BF16 -> 1e-4;
                default -> 1e-3;
            };
            Activations[] dev = new Activations[4];
            Activations[] host = new Activations[4];
            List<Activations> owned = new ArrayList<>();
            try {
                for (int i = 0; i < 4; i++) {   // q, k, v, out
                    int cols = i == 1 || i == 2 ? shape.kvDim() : shape.qDim();
                    owned.add(dev[i] = split.allocateActivations(batch, cols));
                    owned.add(host[i] = cpu.allocateActivations(batch, cols));
                }
                int pos = 0;
                for (int n : new int[] {256, 1, 1, 340, 1, 1}) {
                    for (int i = 0; i < 3; i++) {
                        float[] data = BackendOpsContract.gaussian(r, n * dev[i].cols(), 1.5f);
                        cpu.write(host[i], data, n);
                        split.write(dev[i], data, n);
                    }
                    cpu.kvStore(cc, host[1], host[2], pos, n);
                    split.kvStore(cd, dev[1], dev[2], pos, n);
                    cpu.attention(host[3], host[0], cc, shape, pos, n);
                    split.attention(dev[3], dev[0], cd, shape, pos, n);
                    float[] expected = read(cpu, host[3], n);
                    float[] actual = read(split, dev[3], n);
                    for (int i = 0; i < expected.length; i++) {
                        if (!(Math.abs(expected[i] - actual[i]) <= tol)) {
                            throw new AssertionError("attention K " + kType + " V " + vType + " at startPos " + pos + ", " + n
                                    + " tokens: element " + i + " is " + actual[i] + " on the device, " + expected[i] + " on the cpu");
                        }
                    }
                    pos += n;
                }
            } finally {
                Closeables.closeAllReversed(owned, null);
            }
        }
    }

}
