package dev.spillway.bindings.opencl;

import dev.spillway.bindings.GpuMemoryError;
import dev.spillway.bindings.NativeException;
import dev.spillway.bindings.opencl.gen.OpenCl;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.HashMap;
import java.util.Map;

/**
 * The one checker through which every OpenCL status goes. A failing status becomes an
 * {@link OpenClException} carrying the API's own name of the code, or a {@link GpuMemoryError} for
 * {@code CL_MEM_OBJECT_ALLOCATION_FAILURE}, {@code CL_OUT_OF_RESOURCES} and {@code CL_OUT_OF_HOST_MEMORY}.
 *
 * <p>The code-to-name table is built from the generated constants ({@code OpenCl.CL_*()}), so it
 * names every status the argfile {@code bindings/jextract/opencl.args} includes.
 */
public final class ClStatus {
    private static final Map<Integer, String> NAMES = errorNames();

    private ClStatus() {
    }

    /**
     * Error statuses are the negative {@code CL_*} constants. {@code CL_DEVICE_TYPE_ALL} is the bit
     * field 0xFFFFFFFF, which the generated {@code int} accessor reads as -1: it is no status.
     */
    private static Map<Integer, String> errorNames() {
        Map<Integer, String> names = new HashMap<>();
        for (Method m : OpenCl.class.getDeclaredMethods()) {
            String name = m.getName();
            if (!name.startsWith("CL_") || name.startsWith("CL_DEVICE_TYPE_") || m.getParameterCount() != 0
                    || m.getReturnType() != int.class || !Modifier.isStatic(m.getModifiers())
                    || !Modifier.isPublic(m.getModifiers())) {
                continue;
            }
            try {
                int value = (int) m.invoke(null);
                if (value < 0) {
                    String previous = names.put(value, name);
                    if (previous != null) {
                        throw new IllegalStateException("OpenCL statuses " + previous + " and " + name + " share " + value);
                    }
                }
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("cannot read generated constant " + name, e);
            }
        }
        names.put(OpenCl.CL_SUCCESS(), "CL_SUCCESS");
        return Map.copyOf(names);
    }

    /** The API's name of {@code status}, e.g. {@code CL_INVALID_VALUE}, or {@code CL_UNKNOWN_ERROR(-9999)}. */
    public static String name(int status) {
        String n = NAMES.get(status);
        return n != null ? n : "CL_UNKNOWN_ERROR(" + status + ")";
    }

    /** Throws unless {@code status} is {@code CL_SUCCESS}; {@code call} names what was called, e.g. {@code clBuildProgram}. */
    public static void check(int status, String call) {
        if (status != OpenCl.CL_SUCCESS()) {
            throw failure(status, call, -1, null);
        }
    }

    /** As {@link #check(int, String)} for a call that allocates {@code bytes} (reported by a memory error). */
    public static void check(int status, String call, long bytes) {
        if (status != OpenCl.CL_SUCCESS()) {
            throw failure(status, call, bytes, null);
        }
    }

    /**
     * As {@link #check(int, String)} for a call about one argument of a kernel, e.g.
     * {@code clSetKernelArg(spw_add, 2)}; the message is built only when the call failed.
     */
    public static void check(int status, String call, String kernel, int argument) {
        if (status != OpenCl.CL_SUCCESS()) {
            throw failure(status, call + "(" + kernel + ", " + argument + ")", -1, null);
        }
    }

    /**
     * As {@link #check(int, String)} for {@code clEnqueueNDRangeKernel} of {@code kernel} on
     * {@code groups} work-groups of {@code groupSize} items (3 dimensions each); the message, e.g.
     * {@code clEnqueueNDRangeKernel(spw_rope, 2x70000x1 groups of 256x1x1)}, is built only when the call failed.
     */
    public static void checkLaunch(int status, String kernel, int[] groups, int[] groupSize) {
        if (status != OpenCl.CL_SUCCESS()) {
            throw failure(status, "clEnqueueNDRangeKernel(" + kernel + ", " + groups[0] + "x" + groups[1] + "x" + groups[2]
                    + " groups of " + groupSize[0] + "x" + groupSize[1] + "x" + groupSize[2] + ")", -1, null);
        }
    }

    /**
     * Checks the {@code cl_int errcode_ret} that object-creating calls write, and returns the handle
     * they returned.
     */
    public static MemorySegment checkCreated(MemorySegment handle, MemorySegment errcodeRet, String call, long bytes) {
        check(errcodeRet.get(ValueLayout.JAVA_INT, 0), call, bytes);
        if (handle.equals(MemorySegment.NULL)) {
            throw new OpenClException(0, "CL_SUCCESS", call + " returned CL_SUCCESS but a NULL handle");
        }
        return handle;
    }

    /** The exception for a failed call, with {@code detail} (e.g. a build log) appended when given. */
    public static NativeException failure(int status, String call, long bytes, String detail) {
        String name = name(status);
        String message = call + " failed: " + name + (bytes >= 0 ? " (" + bytes + " bytes requested)" : "")
                + (detail == null || detail.isBlank() ? "" : "\n" + detail.strip());
        if (isOutOfMemory(status)) {
            return new GpuMemoryError("opencl", name, bytes, message);
        }
        return new OpenClException(status, name, message);
    }

    static boolean isOutOfMemory(int status) {
        return status == OpenCl.CL_MEM_OBJECT_ALLOCATION_FAILURE() || status == OpenCl.CL_OUT_OF_RESOURCES()
                || status == OpenCl.CL_OUT_OF_HOST_MEMORY();
    }
}
