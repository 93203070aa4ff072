package dev.spillway.cli;

/** TEMP stub (replaced by the charts branch): one point of a bench chart. */
record BenchPoint(String model, String type, int deviceLayers, String test /* "pp" or "tg" */, double tokensPerSecond,
                  long estimatedBytes, long allocatedBytes, long measuredBytes) {
}
