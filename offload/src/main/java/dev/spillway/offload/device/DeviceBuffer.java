package dev.spillway.offload.device;

/** A device allocation of {@link #byteSize()} bytes, owned by whoever allocated it; closing frees it. */
public interface DeviceBuffer extends AutoCloseable {
    long byteSize();

    boolean isClosed();

    @Override
    void close();
}
