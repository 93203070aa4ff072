package dev.spillway.offload;

import java.util.List;

/**
 * A parsed {@code --device} value: {@code opencl}, {@code cuda}, {@code hip} or {@code tornado},
 * optionally with {@code :INDEX}; or automatic (null or empty), meaning the best device of the first
 * API that has one, CUDA and HIP before OpenCL (TornadoVM only when named).
 *
 * @param api   the API, or null for automatic choice
 * @param index the device index, or -1 for the API's best device (the one with the most memory)
 */
public record DeviceRequest(String api, int index) {
    /** The APIs, in the order automatic choice tries them (it skips {@code tornado}, used only when named). */
    public static final List<String> APIS = List.of("cuda", "hip", "opencl", "tornado");

    public static final DeviceRequest AUTO = new DeviceRequest(null, -1);

    public DeviceRequest {
        if (api != null && !APIS.contains(api)) {
            throw new IllegalArgumentException("unknown device API '" + api + "'");
        }
        if (index < -1 || (api == null && index != -1)) {
            throw new IllegalArgumentException("bad device index " + index);
        }
    }

    /**
     * Parses {@code opencl|cuda|hip|tornado[:INDEX]}, case-insensitively; null, blank or {@code auto} is {@link #AUTO}.
     *
     * @throws IllegalArgumentException naming the value and the accepted forms
     */
    public static DeviceRequest parse(String value) {
        if (value == null || value.isBlank()) {
            return AUTO;
        }
        String v = value.strip().toLowerCase(java.util.Locale.ROOT);
        if (v.equals("auto")) {
            return AUTO;
        }
        int colon = v.indexOf(':');
        String api = colon < 0 ? v : v.substring(0, colon);
        String index = colon < 0 ? null : v.substring(colon + 1);
        if (!APIS.contains(api) || (index != null && !index.matches("[0-9]{1,6}"))) {
            throw new IllegalArgumentException("invalid device '" + value + "': expected cuda, hip, opencl or tornado, optionally with :INDEX (e.g. cuda:0), or auto");
        }
        return new DeviceRequest(api, index == null ? -1 : Integer.parseInt(index));
    }

    /**
     * Parses a comma-separated list ({@code opencl:0,opencl:1}); null or blank is {@code [AUTO]}.
     *
     * @throws IllegalArgumentException for a malformed entry, {@code auto} in a list, or a device named twice
     */
    public static List<DeviceRequest> parseList(String value) {
        if (value == null || value.isBlank()) {
            return List.of(AUTO);
        }
        List<DeviceRequest> out = new java.util.ArrayList<>();
        for (String part : value.split(",", -1)) {
            DeviceRequest r = parse(part);
            if (part.isBlank() || (r.automatic() && value.contains(","))) {
                throw new IllegalArgumentException("invalid device list '" + value + "': name each device, e.g. opencl:0,opencl:1");
            }
            if (out.contains(r) || (!r.automatic() && r.index() < 0 && value.contains(","))) {
                throw new IllegalArgumentException("invalid device list '" + value + "': "
                        + (out.contains(r) ? r + " is named twice" : "give each device of a list its index, e.g. " + r.api() + ":0"));
            }
            out.add(r);
        }
        return List.copyOf(out);
    }

    public boolean automatic() {
        return api == null;
    }

    @Override
    public String toString() {
        return api == null ? "auto" : index < 0 ? api : api + ":" + index;
    }
}
