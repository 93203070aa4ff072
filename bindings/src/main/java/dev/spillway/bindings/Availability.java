package dev.spillway.bindings;

import java.util.function.Function;

/**
 * The outcome of opening a native API whose library may be absent: the API, or a one-line reason
 * why it cannot be used here (e.g. {@code libcuda.so.1 not found …}). A missing library is an
 * expected outcome on most machines, so it is a value rather than an exception.
 *
 * @param <T> the API's wrapper
 */
public sealed interface Availability<T> permits Availability.Available, Availability.Unavailable {

    /** The library was loaded; {@code api} is the wrapper to call it through. */
    record Available<T>(T api) implements Availability<T> {
    }

    /** The library cannot be used; {@code reason} is one line naming what is missing. */
    record Unavailable<T>(String reason) implements Availability<T> {
        public Unavailable {
            if (reason == null || reason.isBlank() || reason.contains("\n")) {
                throw new IllegalArgumentException("a reason is one non-blank line, got: " + reason);
            }
        }
    }

    /** The API, or the exception {@code error} makes of the reason. */
    default T orElseThrow(Function<String, ? extends RuntimeException> error) {
        return switch (this) {
            case Available<T> a -> a.api();
            case Unavailable<T> u -> throw error.apply(u.reason());
        };
    }

    /** Loads the first of {@code sonames} and wraps it with {@code wrapper}, or says why not. */
    static <T> Availability<T> load(java.util.function.Supplier<T> wrapper, String... sonames) {
        return NativeLibrary.load(sonames).<Availability<T>>map(Unavailable::new)
                .orElseGet(() -> new Available<>(wrapper.get()));
    }

    /**
     * As {@link #load}, then calls {@code init} on the wrapper (e.g. {@code nvmlInit_v2}); a
     * {@link NativeException} from it becomes the reason.
     */
    static <T> Availability<T> open(java.util.function.Supplier<T> wrapper, java.util.function.Consumer<T> init, String... sonames) {
        Availability<T> loaded = load(wrapper, sonames);
        if (loaded instanceof Available<T>(T api)) {
            try {
                init.accept(api);
            } catch (NativeException e) {
                return new Unavailable<>(e.getMessage());
            }
        }
        return loaded;
    }
}
