package dev.spillway.cli;

import dev.spillway.api.MemoryInfo;
import dev.spillway.api.ModelParams;
import dev.spillway.offload.DeviceApi;
import dev.spillway.offload.Devices;
import dev.spillway.offload.SmiReadings;
import dev.spillway.offload.device.DeviceInfo;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code spillway devices}: every device of every API with its kind, one reason per API without
 * devices, and the CPU. It probes as automatic choice does ({@link Devices#standard()}): an API
 * whose kernel driver is absent is reported by that (e.g. {@code no AMD GPU driver: /dev/kfd not
 * found}) without loading its library, which says more than the library's own "no device" status.
 */
@Command(name = "devices", mixinStandardHelpOptions = true,
        description = "Lists the devices layers can be offloaded to (CUDA, HIP, OpenCL) with their memory, "
                + "says for each API without devices why, and describes the CPU.")
final class DevicesCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--smi", description = "Also read each CUDA/HIP device's memory through NVML / ROCm SMI.")
    boolean smi;

    @Option(names = "--check", description = "Then compare each device's logits with the CPU's on small synthetic models "
            + "in every weight type; exit status 1 if any differ.")
    boolean check;

    @Option(names = {"-dev", "--device"}, paramLabel = "DEVICE", converter = ModelOptions.SingleDeviceConverter.class,
            description = "Check only this device: cuda, hip, opencl or tornado, optionally :INDEX.")
    String device;

    @Option(names = {"-t", "--threads"}, paramLabel = "N", description = "CPU threads for --check (default: all cores).")
    int threads = 0;

    @Override
    public Integer call() throws java.io.IOException {
        Main.configureLogging(false, spec.commandLine().getErr());
        PrintWriter out = spec.commandLine().getOut();
        if (threads < 0 || threads > ModelParams.MAX_THREADS) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "threads (-t) must be 0 (all cores) or 1.." + ModelParams.MAX_THREADS + ", got " + threads);
        }
        Devices devices = Devices.standard();
        Devices.Report report = devices.discover();
        print(out, report, smi);
        if (!check) {
            return 0;
        }
        java.util.List<DeviceInfo> targets = device == null ? report.devices()
                : java.util.List.of(devices.choose(dev.spillway.offload.DeviceRequest.parse(device), new java.util.ArrayList<>())
                        .orElseThrow().device());
        if (targets.isEmpty()) {
            out.println("no device to check");
            return 1;
        }
        out.println();
        return DeviceCheck.run(targets, threads > 0 ? threads : Runtime.getRuntime().availableProcessors(), out) ? 0 : 1;
    }

    /** The table (the host's row last, of kind {@code host}), then one line per API without devices. */
    static void print(PrintWriter out, Devices.Report report, boolean smi) {
        String row = "%-10s %-11s %-40s %-28s %10s %10s%n";
        out.printf(row, "device", "kind", "name", "vendor", "total", "free");
        for (DeviceInfo d : report.devices()) {
            out.printf(row, d.id(), d.kind().label(), clip(d.name(), 40), clip(d.vendor(), 28),
                    MemoryInfo.human(d.totalBytes()), d.freeBytes() < 0 ? "-" : MemoryInfo.human(d.freeBytes()));
            if (smi && (d.api().equals("cuda") || d.api().equals("hip"))) {
                out.printf("%-10s %s%n", "", SmiReadings.read(d).describe());
            }
        }
        Devices.CpuInfo cpu = report.cpu();
        out.printf(row, "cpu", "host", cpu.cores() + " cores", System.getProperty("os.arch"),
                cpu.totalRamBytes() < 0 ? "-" : MemoryInfo.human(cpu.totalRamBytes()),
                cpu.freeRamBytes() < 0 ? "-" : MemoryInfo.human(cpu.freeRamBytes()));
        for (DeviceApi.Listing l : report.listings()) {
            if (l.reason() != null) {
                out.println(l.api() + ": no devices: " + l.reason());
            }
        }
        out.flush();
    }

    private static String clip(String s, int width) {
        return s.length() <= width ? s : s.substring(0, width - 1) + "…";
    }
}
