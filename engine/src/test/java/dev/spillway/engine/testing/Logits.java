package dev.spillway.engine.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Comparing logit vectors in tests. */
public final class Logits {
    private Logits() {
    }

    /**
     * Asserts that every logit of {@code actual} is within {@code tolerance} of {@code expected},
     * relative to the largest magnitude in {@code expected}; the message names the worst logit.
     */
    public static void assertClose(float[] expected, float[] actual, double tolerance, String what) {
        assertEquals(expected.length, actual.length, what + ": vocabulary sizes");
        double scale = 0;
        for (float v : expected) {
            scale = Math.max(scale, Math.abs(v));
        }
        double worst = 0;
        int worstAt = -1;
        for (int i = 0; i < expected.length; i++) {
            double d = Math.abs(expected[i] - actual[i]);
            if (!(d <= worst)) {
                worst = d;
                worstAt = i;
            }
        }
        double rel = worst / scale;
        assertTrue(rel <= tolerance, what + ": logit " + worstAt + " differs by " + worst + " (" + rel
                + " of the largest logit " + scale + "), tolerance " + tolerance);
    }
}
