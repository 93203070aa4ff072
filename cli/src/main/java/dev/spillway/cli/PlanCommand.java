package dev.spillway.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.spillway.api.ContextParams;
import dev.spillway.api.Model;
import dev.spillway.api.ModelParams;
import dev.spillway.offload.Devices;
import dev.spillway.offload.schedule.LayerPlan;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code spillway plan MODEL}: where {@code run} would put each layer, and what that costs, without loading. */
@Command(name = "plan", mixinStandardHelpOptions = true,
        description = {"Plans where the model's layers go (CPU or devices) and what each device and the host would "
                + "allocate, without loading it: layer ranges per backend, per device the estimate by kind, free "
                + "memory, margin and whether it fits, and the reasons. Exit status 0 whether or not it fits.",
                "With --device-memory and no device present, plans for a hypothetical device of that size."})
final class PlanCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL", description = "GGUF model file.")
    Path model;

    @Option(names = "--json", description = "Print the plan as JSON (sizes in bytes; see the README for the fields).")
    boolean json;

    @Mixin
    ModelOptions modelOptions;

    @Mixin
    ContextOptions contextOptions;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Main.configureLogging(false, spec.commandLine().getErr());
        ContextParams context = Errors.fromOptions(spec.commandLine(), contextOptions::toParams);
        ModelParams params = Errors.fromOptions(spec.commandLine(), () -> modelOptions.toParams(context));
        LayerPlan plan = Model.plan(model, params, Devices.standard());
        if (json) {
            out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(PlanJson.of(plan)));
        } else {
            out.print(plan.table());
        }
        out.flush();
        return 0;
    }
}
