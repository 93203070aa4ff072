package dev.spillway.cli;

import dev.spillway.engine.gguf.MappedFileChangedException;
import java.io.PrintWriter;
import java.util.function.Predicate;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code spillway} command line. */
@Command(name = "spillway",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Runs GGUF language models on the CPU, with layers offloaded to a GPU where one is available.",
        subcommands = {RunCommand.class, InfoCommand.class, BenchCommand.class, PlanCommand.class, DevicesCommand.class,
                PerplexityCommand.class, QuantizeCommand.class, WarmupCommand.class, CommandLine.HelpCommand.class})
public final class Main {

    public static void main(String[] args) {
        System.exit(execute(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /**
     * Runs the command line and returns the exit code: 0 ok, 1 runtime error, 2 usage error (a bad
     * flag, flag value or argument). Either error is one line on {@code err}, {@code spillway: error: ...}.
     */
    public static int execute(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cl = new CommandLine(new Main());
        cl.setOut(out);
        cl.setErr(err);
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            commandLine.getErr().println("spillway: error: " + Errors.describe(ex));
            if (Boolean.getBoolean("spillway.stacktrace")) {
                ex.printStackTrace(commandLine.getErr());
            }
            return 1;
        });
        cl.setParameterExceptionHandler((ex, args1) -> {
            CommandLine c = ex.getCommandLine();
            c.getErr().println("spillway: error: " + Errors.describe(ex) + " (see '"
                    + c.getCommandSpec().qualifiedName() + " --help')");
            return c.getCommandSpec().exitCodeOnInvalidInput();
        });
        try {
            return cl.execute(args);
        } catch (InternalError | OutOfMemoryError e) {
            // picocli hands only Exceptions to the handler above; these two have a one-line story too
            // (a mapped model file that shrank; a heap too small). Anything else is a bug: let it show.
            if (e instanceof InternalError && !MappedFileChangedException.isMappingFault(e)) {
                throw e;
            }
            err.println("spillway: error: " + Errors.describe(e));
            err.flush();
            return 1;
        }
    }

    /** Routes the library's System.Logger output (java.util.logging) to {@code err}, one line per record. */
    static void configureLogging(boolean verbose, PrintWriter err) {
        configureLogging(verbose, err, r -> false);
    }

    /**
     * Routes the library's System.Logger output (java.util.logging) to {@code err}, one line per
     * record, leaving out the records {@code skip} accepts (what the command prints itself).
     */
    static void configureLogging(boolean verbose, PrintWriter err, Predicate<LogRecord> skip) {
        LogManager.getLogManager().reset();
        Logger root = Logger.getLogger("");
        Handler handler = new Handler() {
            @Override
            public void publish(LogRecord r) {
                if (isLoggable(r) && !skip.test(r)) {
                    err.print(getFormatter().format(r));
                    err.flush();
                }
            }

            @Override
            public void flush() {
                err.flush();
            }

            @Override
            public void close() {
                err.flush();
            }
        };
        handler.setFormatter(new Formatter() {
            @Override
            public String format(LogRecord r) {
                String level = r.getLevel().intValue() >= Level.WARNING.intValue() ? "warning: " : "";
                return "spillway: " + level + formatMessage(r) + System.lineSeparator();
            }
        });
        Level level = verbose ? Level.INFO : Level.WARNING;
        handler.setLevel(level);
        root.setLevel(level);
        root.addHandler(handler);
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"spillway " + (v == null ? "dev" : v) + " (Java " + Runtime.version() + ")"};
        }
    }
}
