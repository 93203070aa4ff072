package dev.spillway.bindings;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.HashMap;
import java.util.Map;

/**
 * Names of an API's status codes, read from the constants jextract generated for it (the argfile
 * lists which), for APIs whose own string function gives prose rather than the constant's name
 * (NVML, ROCm SMI).
 */
public final class StatusNames {
    private final Map<Integer, String> names;
    private final String fallbackPrefix;

    private StatusNames(Map<Integer, String> names, String fallbackPrefix) {
        this.names = Map.copyOf(names);
        this.fallbackPrefix = fallbackPrefix;
    }

    /**
     * Collects every public static no-argument {@code int} method of {@code generated} whose name
     * starts with one of {@code prefixes} (jextract's accessors for enum constants).
     *
     * @param fallbackPrefix what an unknown code is called, e.g. {@code nvmlReturn_t} gives {@code nvmlReturn_t 42}
     */
    public static StatusNames of(Class<?> generated, String fallbackPrefix, String... prefixes) {
        Map<Integer, String> names = new HashMap<>();
        for (Method m : generated.getMethods()) {
            if (!Modifier.isStatic(m.getModifiers()) || m.getParameterCount() != 0 || m.getReturnType() != int.class) {
                continue;
            }
            for (String prefix : prefixes) {
                if (m.getName().startsWith(prefix)) {
                    try {
                        names.putIfAbsent((Integer) m.invoke(null), m.getName());
                    } catch (ReflectiveOperationException e) {
                        throw new IllegalStateException("reading " + generated.getSimpleName() + "." + m.getName(), e);
                    }
                }
            }
        }
        return new StatusNames(names, fallbackPrefix);
    }

    /** The constant's name, or e.g. {@code nvmlReturn_t 42} for a code the bindings do not know. */
    public String name(int status) {
        String name = names.get(status);
        return name != null ? name : fallbackPrefix + " " + status;
    }

    public int size() {
        return names.size();
    }
}
