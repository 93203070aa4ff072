package dev.spillway.bindings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class NativeLibraryTest {
    @Test
    void theLinkerCacheFindsLibcAndNotNonsense() {
        // libc is registered with ldconfig on every glibc system.
        var libc = NativeLibrary.linkerCachePath("libc.so.6");
        assertTrue(libc.isPresent() && Files.exists(libc.get()), "libc.so.6 from ldconfig -p: " + libc);
        assertEquals(Optional.empty(), NativeLibrary.linkerCachePath("libspillway-does-not-exist.so.9"));
    }

    @Test
    void aMissingLibraryIsAReasonNamingWhatWasSearched() {
        Optional<String> reason = NativeLibrary.load("libspillway-does-not-exist.so.9", "libspillway-nor-this.so.1");
        assertTrue(reason.isPresent());
        assertTrue(reason.get().startsWith("libspillway-does-not-exist.so.9 or libspillway-nor-this.so.1 not found"), reason.get());
        assertTrue(reason.get().contains("ldconfig cache"), reason.get());
    }
}
