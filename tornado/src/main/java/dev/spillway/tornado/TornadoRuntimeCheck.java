package dev.spillway.tornado;

import java.util.Optional;

/** Whether TornadoVM's runtime is in this JVM, asked without loading any TornadoVM class. */
final class TornadoRuntimeCheck {
    private TornadoRuntimeCheck() {
    }

    /** Why TornadoVM cannot run in this JVM, or empty when it can. */
    static Optional<String> missing() {
        boolean runtime = ModuleLayer.boot().findModule("tornado.runtime").isPresent()
                && System.getProperty("tornado.load.api.implementation") != null;
        if (runtime) {
            return Optional.empty();
        }
        String home = System.getenv("TORNADOVM_HOME");
        if (home == null || home.isBlank()) {
            return Optional.of("TornadoVM is not installed (set TORNADOVM_HOME)");
        }
        return Optional.of("this JVM was started without TornadoVM's flags (java @" + home
                + "/tornado-argfile; the spillway launcher adds them for --device tornado)");
    }
}
