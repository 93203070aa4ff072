package dev.spillway.offload.metrics;

import java.util.Optional;

/** No reading for a device, and why (no management library or tool for its API, none installed). */
record NoProbe(String why) implements MemoryProbe {
    @Override
    public String source() {
        return "none";
    }

    @Override
    public Optional<Reading> read() {
        return Optional.empty();
    }

    @Override
    public Optional<String> reason() {
        return Optional.of(why);
    }
}
