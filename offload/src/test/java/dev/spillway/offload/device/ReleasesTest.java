package dev.spillway.offload.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ReleasesTest {

    @Test
    void releasesRunLastAcquiredFirstAndOnlyOnce() {
        List<String> order = new ArrayList<>();
        Releases r = new Releases();
        r.add("context", () -> order.add("context"));
        r.add("stream", () -> order.add("stream"));
        r.add("module", () -> order.add("module"));
        assertEquals(3, r.pending());
        r.close();
        r.close();
        assertEquals(List.of("module", "stream", "context"), order);
        assertThrows(IllegalStateException.class, () -> r.add("late", () -> { }));
    }

    @Test
    void aFailingReleaseDoesNotStopTheOthers() {
        List<String> order = new ArrayList<>();
        Releases r = new Releases();
        r.add("context", () -> order.add("context"));
        r.add("stream", () -> {
            throw new IllegalStateException("cuStreamDestroy_v2: CUDA_ERROR_INVALID_HANDLE");
        });
        r.add("module", () -> {
            throw new IllegalStateException("cuModuleUnload: CUDA_ERROR_INVALID_HANDLE");
        });
        IllegalStateException e = assertThrows(IllegalStateException.class, r::close);
        assertEquals(List.of("context"), order);
        assertTrue(e.getMessage().startsWith("releasing module failed: cuModuleUnload"), e.getMessage());
        assertEquals(1, e.getSuppressed().length);
        assertTrue(e.getSuppressed()[0].getMessage().startsWith("releasing stream failed"), e.getSuppressed()[0].getMessage());
    }

    /** A factory that fails halfway releases what it acquired and keeps its own exception. */
    @Test
    void closeAfterAFailureReleasesAndKeepsTheCause() {
        List<String> released = new ArrayList<>();
        Releases r = new Releases();
        r.add("context", () -> released.add("context"));
        r.add("stream", () -> {
            throw new IllegalStateException("stream gone");
        });
        RuntimeException cause = new RuntimeException("cuModuleLoadDataEx: CUDA_ERROR_INVALID_PTX");
        r.closeAfter(cause);
        assertEquals(List.of("context"), released);
        assertEquals(1, cause.getSuppressed().length);
        assertTrue(cause.getSuppressed()[0].getMessage().contains("stream gone"));
    }
}
