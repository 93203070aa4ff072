package dev.spillway.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** TEMP stub (replaced by the charts branch): writes no files. */
final class BenchCharts {
    private BenchCharts() {
    }

    static List<Path> write(List<BenchPoint> points, Path dir) throws IOException {
        return List.of();
    }
}
