package dev.spillway.offload.metrics;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * {@code rocm-smi --showmeminfo vram --json}: one object per card,
 * {@code {"card0": {"VRAM Total Memory (B)": "17163091968", "VRAM Total Used Memory (B)": "10850304"}}},
 * values as strings of bytes. It reports neither utilization nor power in this mode. Errors come as
 * text before or instead of the JSON (e.g. {@code ERROR:root:Driver not initialized (amdgpu not found in modules)}).
 */
public final class RocmSmiTool implements MemoryProbe {
    private static final ObjectMapper JSON = new ObjectMapper();
    public static final String TOOL = "rocm-smi";
    static final String TOTAL = "VRAM Total Memory (B)";
    static final String USED = "VRAM Total Used Memory (B)";

    private final CommandRunner runner;
    private final int card;
    private String reason;

    /** @param card the card number in rocm-smi's order ({@code cardN}) */
    public RocmSmiTool(CommandRunner runner, int card) {
        this.runner = runner;
        this.card = card;
    }

    public List<String> command() {
        return List.of(TOOL, "--showmeminfo", "vram", "--json");
    }

    @Override
    public String source() {
        return TOOL + " card" + card;
    }

    @Override
    public Optional<Reading> read() {
        CommandRunner.Result r = runner.run(command());
        Parsed p = r.ran() ? parse(r.output()) : new Parsed(Map.of(), r.failure());
        Reading reading = p.cards().get("card" + card);
        reason = reading != null ? null : p.error() != null ? p.error() : TOOL + ": no card" + card + " in " + p.cards().keySet();
        return Optional.ofNullable(reading);
    }

    @Override
    public Optional<String> reason() {
        return Optional.ofNullable(reason);
    }

    /**
     * @param cards a reading per card name ({@code card0}, …), in order
     * @param error null with readings; else why there are none
     */
    public record Parsed(Map<String, Reading> cards, String error) {
    }

    /** Parses the tool's output; never throws on bad input. */
    public static Parsed parse(String output) {
        int start = output.indexOf('{');
        if (start < 0) {
            String first = output.lines().map(String::strip).filter(l -> !l.isEmpty()).findFirst().orElse("no output");
            return new Parsed(Map.of(), TOOL + ": " + first);
        }
        JsonNode root;
        try {
            root = JSON.readTree(output.substring(start));
        } catch (JsonProcessingException e) {
            return new Parsed(Map.of(), TOOL + ": output is not JSON: " + e.getOriginalMessage());
        }
        Map<String, Reading> cards = new java.util.LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getKey().startsWith("card")) {
                continue;
            }
            long total = bytes(e.getValue().get(TOTAL));
            long used = bytes(e.getValue().get(USED));
            if (total >= 0 && used >= 0) {
                cards.put(e.getKey(), Reading.memory(used, total));
            }
        }
        if (cards.isEmpty()) {
            return new Parsed(Map.of(), TOOL + ": no card with VRAM readings in " + abbreviate(output.strip()));
        }
        return new Parsed(java.util.Collections.unmodifiableMap(cards), null);
    }

    private static long bytes(JsonNode n) {
        if (n == null) {
            return -1;
        }
        try {
            return Long.parseLong(n.asText().strip());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static String abbreviate(String s) {
        String one = s.replaceAll("\\s+", " ");
        return one.length() <= 120 ? one : one.substring(0, 119) + "…";
    }
}
