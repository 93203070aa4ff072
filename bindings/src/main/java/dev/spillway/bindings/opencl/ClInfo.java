package dev.spillway.bindings.opencl;

import static dev.spillway.bindings.opencl.gen.OpenCl.C_POINTER;

import dev.spillway.bindings.opencl.gen.OpenCl;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Small queries of platforms, devices and programs, each through {@link ClStatus}. Call only after
 * {@link OpenClLibrary#load()} succeeded. Handles ({@code cl_platform_id}, {@code cl_device_id}) are
 * returned as address segments; platforms and devices need no release.
 */
public final class ClInfo {
    /** The prefix of CL_PLATFORM_VERSION and CL_DEVICE_VERSION strings. */
    private static final Pattern VERSION = Pattern.compile("OpenCL (\\d+)\\.(\\d+)");

    private ClInfo() {
    }

    /** {@code CL_DEVICE_TYPE_ALL} as the {@code cl_device_type} bit field (the generated int reads it as -1). */
    public static long deviceTypeAll() {
        return Integer.toUnsignedLong(OpenCl.CL_DEVICE_TYPE_ALL());
    }

    /**
     * Every platform. An ICD loader with no platform installed answers {@code CL_PLATFORM_NOT_FOUND_KHR}
     * (-1001); that is reported as an empty list, not an error.
     */
    public static List<MemorySegment> platforms() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment count = arena.allocate(ValueLayout.JAVA_INT);
            int status = OpenCl.clGetPlatformIDs(0, MemorySegment.NULL, count);
            if (status == PLATFORM_NOT_FOUND_KHR) {
                return List.of();
            }
            ClStatus.check(status, "clGetPlatformIDs");
            int n = count.get(ValueLayout.JAVA_INT, 0);
            if (n == 0) {
                return List.of();
            }
            MemorySegment ids = arena.allocate(C_POINTER, n);
            ClStatus.check(OpenCl.clGetPlatformIDs(n, ids, MemorySegment.NULL), "clGetPlatformIDs");
            return handles(ids, n);
        }
    }

    /** {@code CL_PLATFORM_NOT_FOUND_KHR} from cl_khr_icd (not in the core header). */
    static final int PLATFORM_NOT_FOUND_KHR = -1001;

    /** Every device of {@code platform} ({@code CL_DEVICE_TYPE_ALL}); empty when it has none. */
    public static List<MemorySegment> devices(MemorySegment platform) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment count = arena.allocate(ValueLayout.JAVA_INT);
            int status = OpenCl.clGetDeviceIDs(platform, deviceTypeAll(), 0, MemorySegment.NULL, count);
            if (status == OpenCl.CL_DEVICE_NOT_FOUND()) {
                return List.of();
            }
            ClStatus.check(status, "clGetDeviceIDs");
            int n = count.get(ValueLayout.JAVA_INT, 0);
            MemorySegment ids = arena.allocate(C_POINTER, Math.max(1, n));
            ClStatus.check(OpenCl.clGetDeviceIDs(platform, deviceTypeAll(), n, ids, MemorySegment.NULL), "clGetDeviceIDs");
            return handles(ids, n);
        }
    }

    private static List<MemorySegment> handles(MemorySegment array, int n) {
        List<MemorySegment> list = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            list.add(array.getAtIndex(C_POINTER, i).reinterpret(0));
        }
        return List.copyOf(list);
    }

    /** A string-valued platform parameter, e.g. {@code CL_PLATFORM_NAME}. */
    public static String platformString(MemorySegment platform, int param) {
        return string((size, value, sizeRet) -> OpenCl.clGetPlatformInfo(platform, param, size, value, sizeRet),
                "clGetPlatformInfo");
    }

    /** A string-valued device parameter, e.g. {@code CL_DEVICE_NAME}. */
    public static String deviceString(MemorySegment device, int param) {
        return string((size, value, sizeRet) -> OpenCl.clGetDeviceInfo(device, param, size, value, sizeRet),
                "clGetDeviceInfo");
    }

    /** A {@code cl_ulong} device parameter, e.g. {@code CL_DEVICE_GLOBAL_MEM_SIZE}. */
    public static long deviceLong(MemorySegment device, int param) {
        return deviceScalar(device, param, 8);
    }

    /**
     * The device's {@code CL_DEVICE_TYPE}: a {@code cl_device_type} bit field of
     * {@code CL_DEVICE_TYPE_CPU}, {@code _GPU}, {@code _ACCELERATOR}, {@code _CUSTOM} (and
     * {@code _DEFAULT} on the platform's default device).
     */
    public static long deviceType(MemorySegment device) {
        return deviceLong(device, OpenCl.CL_DEVICE_TYPE());
    }

    /** A {@code size_t} device parameter, e.g. {@code CL_DEVICE_MAX_WORK_GROUP_SIZE}. */
    public static long deviceSize(MemorySegment device, int param) {
        return deviceScalar(device, param, OpenCl.C_LONG.byteSize());
    }

    /** A {@code cl_uint} (or {@code cl_bool}) device parameter, e.g. {@code CL_DEVICE_MAX_COMPUTE_UNITS}. */
    public static long deviceInt(MemorySegment device, int param) {
        return deviceScalar(device, param, 4);
    }

    private static long deviceScalar(MemorySegment device, int param, long bytes) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment value = arena.allocate(8, 8);
            ClStatus.check(OpenCl.clGetDeviceInfo(device, param, bytes, value, MemorySegment.NULL), "clGetDeviceInfo");
            return bytes == 4 ? Integer.toUnsignedLong(value.get(ValueLayout.JAVA_INT, 0)) : value.get(ValueLayout.JAVA_LONG, 0);
        }
    }

    /**
     * The version in a {@code CL_PLATFORM_VERSION} or {@code CL_DEVICE_VERSION} string
     * ({@code "OpenCL <major>.<minor> <vendor text>"}) as {@code major * 100 + minor}, e.g. 102 for
     * 1.2 and 300 for 3.0; 0 when the string does not have that form.
     */
    public static int version(String clVersion) {
        Matcher m = VERSION.matcher(clVersion);
        if (!m.lookingAt()) {
            return 0;
        }
        try {
            return Integer.parseInt(m.group(1)) * 100 + Integer.parseInt(m.group(2));
        } catch (NumberFormatException e) {
            return 0;   // more digits than an int holds: no version the spec defines
        }
    }

    /** The build log of {@code program} for {@code device} ({@code CL_PROGRAM_BUILD_LOG}). */
    public static String buildLog(MemorySegment program, MemorySegment device) {
        return string((size, value, sizeRet) -> OpenCl.clGetProgramBuildInfo(program, device,
                OpenCl.CL_PROGRAM_BUILD_LOG(), size, value, sizeRet), "clGetProgramBuildInfo");
    }

    /** A {@code clGet*Info} call: (param_value_size, param_value, param_value_size_ret) -> status. */
    @FunctionalInterface
    private interface InfoCall {
        int call(long size, MemorySegment value, MemorySegment sizeRet);
    }

    /** Asks for the size, then the NUL-terminated string. */
    private static String string(InfoCall info, String what) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment sizeRet = arena.allocate(OpenCl.C_LONG);
            ClStatus.check(info.call(0, MemorySegment.NULL, sizeRet), what);
            long size = sizeRet.get(OpenCl.C_LONG, 0);
            if (size <= 0) {
                return "";
            }
            MemorySegment value = arena.allocate(size + 1);
            ClStatus.check(info.call(size, value, MemorySegment.NULL), what);
            return value.getString(0).strip();
        }
    }
}
