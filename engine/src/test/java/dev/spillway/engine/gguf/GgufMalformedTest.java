package dev.spillway.engine.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.spillway.engine.tensor.TensorView;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Malformed, truncated and hostile GGUF files: each must give a {@link GgufFormatException} whose
 * message says what was wrong and whose offset points at the offending field; nothing else (no
 * other exception, no OutOfMemoryError, no hang).
 */
class GgufMalformedTest {
    private static final int F32 = 0;
    private static final int Q4_0 = 2;
    private static final int Q4_K = 12;
    /** The parser's safety net text: seeing it means a check is missing. */
    private static final String INTERNAL = "internal error";

    @TempDir
    Path dir;

    /** One defect: the file, a fragment its message must contain, and the offset it must report. */
    record Case(String name, byte[] bytes, String fragment, long offset) {
        @Override
        public String toString() {
            return name;
        }
    }

    private static Case c(String name, GgufBytes b, String fragment, String mark) {
        return new Case(name, b.toArray(), fragment, b.at(mark));
    }

    private static Case c(String name, GgufBytes b, String fragment, long offset) {
        return new Case(name, b.toArray(), fragment, offset);
    }

    private static GgufBytes b() {
        return new GgufBytes();
    }

    /** A file with one metadata pair (key and type written here, value by the caller), no tensors. */
    private static GgufBytes oneKv(String key, GgufValueType type) {
        return b().header(3, 0, 1).mark("kv").kv(key, type).mark("value");
    }

    /** A file with one tensor info (written by the caller), no metadata. */
    private static GgufBytes oneTensor() {
        return b().header(3, 1, 0);
    }

    static Stream<Case> cases() {
        List<Case> cs = new ArrayList<>();
        // ---- header ----
        cs.add(c("empty file", b(), "truncated: magic", 0));
        cs.add(c("three bytes", b().bytes("GGU".getBytes(StandardCharsets.US_ASCII)), "truncated: magic", 0));
        cs.add(c("bad magic", b().bytes("GGML".getBytes(StandardCharsets.US_ASCII)).u32(3).u64(0).u64(0),
                "bad magic 47474d4c", 0));
        cs.add(c("zeros", b().zeros(64), "bad magic 00000000", 0));
        for (long v : new long[] {0, 4, 0xFFFFFFFFL}) {
            cs.add(c("version " + v, b().header(v, 0, 0), "GGUF version " + v + " is not supported", 4));
        }
        cs.add(c("version 1", b().header(1, 0, 0), "version 1 (32-bit counts", 4));
        cs.add(c("big-endian version 3", b().header(0x03000000, 0, 0), "big-endian", 4));
        cs.add(c("header cut in version", b().bytes("GGUF".getBytes(StandardCharsets.US_ASCII)).u8(3),
                "truncated: version needs 4 bytes, only 1 left", 4));
        cs.add(new Case("header cut in metadata_kv_count", Arrays.copyOf(b().header(3, 0, 0).toArray(), 20),
                "truncated: metadata_kv_count needs 8 bytes, only 4 left", 16));
        cs.add(c("tensor_count 2^63", b().header(3, 1L << 63, 0), "tensor_count 9223372036854775808 is impossible", 8));
        cs.add(c("tensor_count 2^40", b().header(3, 1L << 40, 0).zeros(64), "tensor_count 1099511627776 is impossible", 8));
        cs.add(c("tensor_count 2^64-1", b().header(3, -1, 0), "tensor_count 18446744073709551615", 8));
        cs.add(c("metadata_kv_count 2^63", b().header(3, 0, 1L << 63), "metadata_kv_count 9223372036854775808 is impossible", 16));
        cs.add(c("metadata_kv_count 2^40", b().header(3, 0, 1L << 40).zeros(64), "metadata_kv_count 1099511627776", 16));
        cs.add(c("counts together too big", b().header(3, 1, 2).zeros(40), "need at least 58 bytes, but only 40", 8));

        // ---- metadata keys ----
        cs.add(c("key length 2^62", b().header(3, 0, 1).mark("k").u64(1L << 62).zeros(16),
                "string length 4611686018427387904 runs past end of file (16 bytes left)", "k"));
        cs.add(c("key length 2^64-1", b().header(3, 0, 1).mark("k").u64(-1).zeros(16), "string length 18446744073709551615", "k"));
        cs.add(c("key over 65535 bytes", b().header(3, 0, 1).mark("k").str("k".repeat(65536)).u32(0).u8(0),
                "metadata key #0: string length 65536 exceeds the limit of 65535", "k"));
        byte[][] badUtf8 = {{(byte) 0xC3, 0x28}, {(byte) 0xC0, (byte) 0x80}, {(byte) 0xED, (byte) 0xA0, (byte) 0x80},
                {(byte) 0xF4, (byte) 0x90, (byte) 0x80, (byte) 0x80}, {(byte) 0xFF}, {(byte) 0x80}, {(byte) 0xE2, (byte) 0x82}};
        for (byte[] bad : badUtf8) {
            byte[] key = concat("ok.".getBytes(StandardCharsets.US_ASCII), bad);
            cs.add(c("key with invalid UTF-8 " + hex(bad), b().header(3, 0, 1).mark("k").str(key).u32(0).u8(0),
                    "metadata key #0 is not valid UTF-8", b().header(3, 0, 1).pos() + 8 + 3));
        }
        cs.add(c("duplicate key", b().header(3, 0, 2).kv("a.b", GgufValueType.UINT8).u8(1).mark("dup")
                .kv("a.b", GgufValueType.UINT8).u8(2), "duplicate metadata key 'a.b' (pair #1)", "dup"));
        cs.add(c("key truncated", b().header(3, 0, 1).u64(20).bytes("general".getBytes(StandardCharsets.US_ASCII)).zeros(6),
                "string length 20 runs past end of file (13 bytes left)", 24));

        // ---- metadata values ----
        cs.add(c("unknown value type 13", b().header(3, 0, 1).str("k").mark("t").u32(13).zeros(8),
                "type of metadata 'k': unknown value type 13", "t"));
        cs.add(c("unknown value type 2^32-1", b().header(3, 0, 1).str("k").mark("t").u32(0xFFFFFFFFL).zeros(8),
                "unknown value type 4294967295", "t"));
        cs.add(c("value truncated (UINT64)", oneKv("k", GgufValueType.UINT64).u32(7),
                "truncated: metadata 'k' needs 8 bytes, only 4 left", "value"));
        cs.add(c("string value length 2^62", oneKv("k", GgufValueType.STRING).u64(1L << 62).zeros(8),
                "metadata 'k': string length 4611686018427387904 runs past end of file", "value"));
        cs.add(c("string value truncated", oneKv("k", GgufValueType.STRING).u64(10).bytes(new byte[] {'a', 'b', 'c'}),
                "string length 10 runs past end of file (3 bytes left)", "value"));
        cs.add(c("bool 2", oneKv("k", GgufValueType.BOOL).u8(2), "metadata 'k': BOOL must be 0 or 1, found 2", "value"));
        cs.add(c("bool 255", oneKv("k", GgufValueType.BOOL).u8(255), "BOOL must be 0 or 1, found 255", "value"));
        cs.add(c("bool array element 2", oneKv("k", GgufValueType.ARRAY).u32(GgufValueType.BOOL.id()).u64(3).u8(1)
                .mark("bad").u8(2).u8(0), "metadata 'k'[1]: BOOL must be 0 or 1, found 2", "bad"));
        cs.add(c("array unknown element type", oneKv("k", GgufValueType.ARRAY).u32(99).u64(0),
                "metadata 'k' element type: unknown value type 99", "value"));
        for (GgufValueType t : new GgufValueType[] {GgufValueType.UINT8, GgufValueType.STRING, GgufValueType.ARRAY}) {
            cs.add(c("array of 2^60 " + t, oneKv("k", GgufValueType.ARRAY).u32(t.id()).mark("len").u64(1L << 60).zeros(16),
                    "metadata 'k': array of 1152921504606846976 " + t + " elements (at least " + t.minEncodedSize()
                    + " bytes each) runs past end of file", "len"));
        }
        cs.add(c("array length 2^63", oneKv("k", GgufValueType.ARRAY).u32(GgufValueType.INT64.id()).mark("len").u64(1L << 63),
                "array of 9223372036854775808 INT64", "len"));
        cs.add(c("array one element too long", oneKv("k", GgufValueType.ARRAY).u32(GgufValueType.INT32.id()).mark("len").u64(5)
                .zeros(16), "array of 5 INT32 elements (at least 4 bytes each) runs past end of file (16 bytes left)", "len"));
        cs.add(c("string array element length 2^62", oneKv("k", GgufValueType.ARRAY).u32(GgufValueType.STRING.id()).u64(2)
                .str("ok").mark("s").u64(1L << 62).zeros(8), "metadata 'k'[1]: string length 4611686018427387904", "s"));
        GgufBytes deep = oneKv("k", GgufValueType.ARRAY);
        for (int i = 0; i < 1000; i++) {
            deep.u32(GgufValueType.ARRAY.id()).u64(1);
        }
        deep.u32(GgufValueType.UINT8.id()).u64(0);
        cs.add(c("arrays nested 1000 deep", deep, "arrays nested more than " + GgufFormat.MAX_ARRAY_DEPTH + " deep",
                deep.at("value") + 12L * GgufFormat.MAX_ARRAY_DEPTH));

        // ---- general.alignment ----
        for (long a : new long[] {0, 3, 48, 0xFFFFFFFFL}) {
            cs.add(c("alignment " + a, withAlignment(b -> b.u32(GgufValueType.UINT32.id()).u32(a)),
                    "general.alignment " + a + " is not a nonzero power of two", "t"));
        }
        cs.add(c("alignment 2^31", withAlignment(b -> b.u32(GgufValueType.UINT32.id()).u32(1L << 31)),
                "tensor data section would start at 0x80000000 (aligned to 2147483648), past end of file", "infoEnd"));
        cs.add(c("alignment as UINT64", withAlignment(b -> b.u32(GgufValueType.UINT64.id()).u64(32)),
                "general.alignment must be a UINT32, found UINT64", "t"));
        cs.add(c("alignment as INT32", withAlignment(b -> b.u32(GgufValueType.INT32.id()).u32(32)),
                "general.alignment must be a UINT32, found INT32", "t"));
        cs.add(c("alignment as STRING", withAlignment(b -> b.u32(GgufValueType.STRING.id()).str("32")),
                "general.alignment must be a UINT32, found STRING", "t"));
        cs.add(c("offset aligned to 32 but alignment 64", withAlignment(b -> b.u32(GgufValueType.UINT32.id()).u32(64), 32),
                "tensor 'w': data offset 0x20 is not a multiple of the alignment 64", "w.offset"));

        // ---- tensor infos ----
        cs.add(c("tensor name length 2^62", oneTensor().mark("n").u64(1L << 62).zeros(40), "name of tensor #0: string length", "n"));
        cs.add(c("tensor name over 64 bytes", oneTensor().mark("n").str("w".repeat(65)).zeros(40),
                "string length 65 exceeds the limit of 64", "n"));
        cs.add(c("tensor name invalid UTF-8", oneTensor().str(new byte[] {'w', (byte) 0xFE}).zeros(40),
                "name of tensor #0 is not valid UTF-8", 24 + 8 + 1));
        cs.add(c("duplicate tensor names", b().header(3, 2, 0).tensor("w", F32, 0, 8).tensor("w", F32, 32, 8).pad(32).zeros(64),
                "duplicate tensor name 'w' (tensor #1)", "w"));
        for (long n : new long[] {0, 5, 0xFFFFFFFFL}) {
            cs.add(c("n_dimensions " + n, oneTensor().str("w").mark("n").u32(n).zeros(40),
                    "tensor 'w': n_dimensions " + n + " is not in 1..4", "n"));
        }
        cs.add(c("dimension 0", oneTensor().str("w").u32(2).u64(4).mark("d").u64(0).u32(F32).u64(0).zeros(32),
                "tensor 'w': dimension 1 is 0", "d"));
        cs.add(c("dimension 2^63", oneTensor().str("w").u32(1).mark("d").u64(1L << 63).u32(F32).u64(0).zeros(32),
                "tensor 'w': dimension 0 is 9223372036854775808", "d"));
        cs.add(c("element count overflow (2^62 x 4)", oneTensor().str("w").u32(2).u64(1L << 62).mark("d").u64(4).u32(F32).u64(0)
                .zeros(32), "element count of shape [4611686018427387904, 4] overflows 64 bits", "d"));
        cs.add(c("byte size overflow (F32 2^31 x 2^31)", oneTensor().tensor("w", F32, 0, 1L << 31, 1L << 31).zeros(32),
                "tensor 'w': 4611686018427387904 elements of F32 take more than 2^63 bytes", "w.type"));
        for (int type : new int[] {99, 4, 5, -1}) {
            cs.add(c("unknown ggml type " + Integer.toUnsignedString(type), oneTensor().tensor("w", type, 0, 8).zeros(32),
                    "tensor 'w': unknown ggml type " + Integer.toUnsignedString(type), "w.type"));
        }
        cs.add(c("Q4_0 row of 33", oneTensor().tensor("w", Q4_0, 0, 33, 2).pad(32).zeros(64),
                "tensor 'w': row length 33 is not a multiple of Q4_0's block of 32 elements", "w.type"));
        cs.add(c("Q4_K row of 32", oneTensor().tensor("w", Q4_K, 0, 32).pad(32).zeros(64),
                "row length 32 is not a multiple of Q4_K's block of 256", "w.type"));
        cs.add(c("offset not aligned", oneTensor().tensor("w", F32, 4, 8).pad(32).zeros(64),
                "tensor 'w': data offset 0x4 is not a multiple of the alignment 32", "w.offset"));
        cs.add(c("offset past end", oneTensor().tensor("w", F32, 1 << 20, 8).pad(32).zeros(32),
                "tensor 'w' data [0x100040, 0x100060) runs past end of file (size 0x60)", "w.offset"));
        cs.add(c("offset 2^63", oneTensor().tensor("w", F32, 1L << 63, 8).pad(32).zeros(32),
                "tensor 'w' data [0x8000000000000040, 0x8000000000000060) runs past end of file", "w.offset"));
        cs.add(c("offset 2^64-32", oneTensor().tensor("w", F32, -32, 8).pad(32).zeros(32),
                "tensor 'w' data [0x10000000000000020, 0x10000000000000040) runs past end of file", "w.offset"));
        cs.add(c("tensor data truncated", oneTensor().tensor("w", F32, 0, 8).pad(32).zeros(31),
                "tensor 'w' data [0x40, 0x60) runs past end of file (size 0x5f)", "w.offset"));
        cs.add(c("second tensor's data truncated", b().header(3, 2, 0).tensor("a", F32, 0, 8).tensor("b", F32, 32, 16)
                .pad(32).zeros(95), "tensor 'b' data", "b.offset"));
        cs.add(c("data section past end of file", oneTensor().tensor("w", F32, 0, 8).mark("end"),
                "tensor data section would start at 0x40 (aligned to 32), past end of file (size 0x39)", "end"));
        cs.add(c("tensors overlap", b().header(3, 2, 0).tensor("a", F32, 0, 16).tensor("b", F32, 32, 16).pad(32).zeros(96),
                "tensor 'b' data [0x80, 0xc0) overlaps tensor 'a' data [0x60, 0xa0)", "b.offset"));
        cs.add(c("tensors overlap, later one first in file", b().header(3, 2, 0).tensor("a", F32, 32, 16).tensor("b", F32, 0, 16)
                .pad(32).zeros(96), "tensor 'a' data [0x80, 0xc0) overlaps tensor 'b' data [0x60, 0xa0)", "a.offset"));
        cs.add(c("tensors at the same offset", b().header(3, 2, 0).tensor("a", F32, 0, 8).tensor("b", F32, 0, 8)
                .pad(32).zeros(32), "overlaps", "b.offset"));
        cs.add(c("tensor_count larger than the infos", b().header(3, 2, 0).tensor("a", F32, 0, 8).mark("second")
                .u64(1L << 40).zeros(24), "name of tensor #1: string length 1099511627776 runs past end of file", "second"));
        return cs.stream();
    }

    /** A file whose only metadata is general.alignment (type and value by {@code value}), with one F32 tensor. */
    private static GgufBytes withAlignment(java.util.function.Consumer<GgufBytes> value) {
        return withAlignment(value, 0);
    }

    private static GgufBytes withAlignment(java.util.function.Consumer<GgufBytes> value, long tensorOffset) {
        GgufBytes b = b().header(3, 1, 1).str("general.alignment").mark("t");
        value.accept(b);
        b.tensor("w", F32, tensorOffset, 8).mark("infoEnd").pad(32).zeros(32 + (int) tensorOffset);
        return b;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void malformedFileGivesAPreciseError(Case c) throws IOException {
        Path file = Files.write(dir.resolve("bad.gguf"), c.bytes());
        for (GgufFile.Options options : List.of(GgufFile.Options.DEFAULT, GgufFile.Options.IN_MEMORY)) {
            GgufFormatException e = assertThrows(GgufFormatException.class, () -> GgufFile.open(file, options).close(),
                    c.name() + " must be rejected");
            assertTrue(e.getMessage().contains(c.fragment()), "message for " + c.name() + ": " + e.getMessage());
            assertEquals(c.offset(), e.offset(), "offset for " + c.name() + ": " + e.getMessage());
            assertTrue(e.getMessage().startsWith("bad.gguf @ 0x" + Long.toHexString(c.offset()) + ": "), e.getMessage());
            assertEquals(file, e.path());
            assertFalse(e.getMessage().contains(INTERNAL), e.getMessage());
        }
    }

    @Test
    void hostileButValidFilesOpen() throws IOException {
        // Arrays nested exactly as deep as allowed; invalid UTF-8 in a string *value* is tolerated (llama.cpp does).
        GgufBytes deep = oneKv("k", GgufValueType.ARRAY);
        for (int i = 1; i < GgufFormat.MAX_ARRAY_DEPTH; i++) {
            deep.u32(GgufValueType.ARRAY.id()).u64(1);
        }
        deep.u32(GgufValueType.UINT8.id()).u64(1).u8(42);
        try (GgufFile f = GgufFile.open(Files.write(dir.resolve("deep.gguf"), deep.toArray()))) {
            GgufArray a = f.require("k").asArray();
            for (int i = 1; i < GgufFormat.MAX_ARRAY_DEPTH; i++) {
                a = ((GgufArray[]) a.values())[0];
            }
            assertEquals(42, a.asInts()[0]);
        }
        GgufBytes b = oneKv("k", GgufValueType.STRING).str(new byte[] {'a', (byte) 0xFF, 'b'});
        try (GgufFile f = GgufFile.open(Files.write(dir.resolve("value.gguf"), b.toArray()))) {
            assertEquals("a\uFFFDb", f.requireString("k"));
        }
        // Tensors need not be in offset order, nor packed.
        GgufBytes unordered = b().header(3, 2, 0).tensor("late", F32, 128, 8).tensor("early", F32, 0, 8).pad(32).zeros(160);
        try (GgufFile f = GgufFile.open(Files.write(dir.resolve("unordered.gguf"), unordered.toArray()))) {
            assertEquals(List.of("late", "early"), f.tensors().stream().map(GgufTensorInfo::name).toList());
            assertEquals(f.dataOffset() + 128, f.absoluteOffset(f.findTensor("late").orElseThrow()));
        }
    }

    /** Every proper prefix of a valid file that cuts into the header, metadata, tensor infos or data is rejected. */
    @Test
    void everyTruncationIsRejectedCleanly() throws IOException {
        byte[] bytes = smallFile();
        long dataEnd;
        long dataOffset;
        try (GgufFile f = GgufFile.ofBytes(dir.resolve("whole.gguf"), bytes)) {
            dataOffset = f.dataOffset();
            dataEnd = f.tensors().stream().mapToLong(t -> f.absoluteOffset(t) + t.byteSize()).max().orElseThrow();
        }
        Path cut = dir.resolve("cut.gguf");
        int truncatedReads = 0;
        for (int len = 0; len < bytes.length; len++) {
            byte[] prefix = Arrays.copyOf(bytes, len);
            if (len >= dataEnd) {
                // Only the trailing padding after the last tensor is missing: still a complete file.
                try (GgufFile f = open(cut, prefix, len)) {
                    assertEquals(2, f.tensors().size());
                }
                continue;
            }
            try (GgufFile f = open(cut, prefix, len)) {
                fail("prefix of " + len + " bytes opened: " + f);
            } catch (GgufFormatException e) {
                assertFalse(e.getMessage().contains(INTERNAL), e.getMessage());
                assertTrue(e.offset() >= 0 && e.offset() <= len, "offset " + e.offset() + " outside a " + len + "-byte file: "
                        + e.getMessage());
                if (len < dataOffset - 32) {
                    assertTrue(e.getMessage().contains("truncated") || e.getMessage().contains("past end of file")
                            || e.getMessage().contains("impossible") || e.getMessage().contains("need at least"),
                            "a cut header must read as a truncation: " + e.getMessage());
                }
                truncatedReads += e.getMessage().contains("truncated: ") ? 1 : 0;
            }
        }
        assertTrue(truncatedReads > 100, "most cuts inside fields are reported as truncated reads: " + truncatedReads);
    }

    /**
     * Thousands of random mutations of a valid file (bit flips, interesting values, truncations,
     * insertions): each either opens, with every tensor view inside the file, or fails with a
     * GgufFormatException. Fixed seed: a failure names the iteration to reproduce it.
     */
    @Test
    void randomMutationsGiveSuccessOrFormatError() throws IOException {
        byte[] original = smallFile();
        int headerEnd;
        try (GgufFile f = GgufFile.ofBytes(dir.resolve("whole.gguf"), original)) {
            headerEnd = (int) f.dataOffset();
        }
        long[] interesting = {0, 1, 2, 3, 4, 5, 8, 13, 31, 32, 33, 63, 64, 255, 256, 65535, 65536, 1L << 31, (1L << 32) - 1,
                1L << 32, 1L << 40, 1L << 60, 1L << 62, Long.MAX_VALUE, 1L << 63, -1, -32, original.length};
        // -Dspillway.fuzz.iterations=N -Dspillway.fuzz.seed=S run a longer or different campaign.
        int iterations = Integer.getInteger("spillway.fuzz.iterations", 4000);
        Random rnd = new Random(Long.getLong("spillway.fuzz.seed", 0x6775_6766L));
        Path file = dir.resolve("fuzz.gguf");
        int opened = 0;
        int rejected = 0;
        for (int iter = 0; iter < iterations; iter++) {
            byte[] m = original.clone();
            int at = rnd.nextInt(10) < 8 ? rnd.nextInt(headerEnd) : rnd.nextInt(m.length);
            switch (rnd.nextInt(6)) {
                case 0 -> {
                    for (int k = 1 + rnd.nextInt(4); k > 0; k--) {
                        int i = rnd.nextInt(10) < 8 ? rnd.nextInt(headerEnd) : rnd.nextInt(m.length);
                        m[i] ^= (byte) (1 << rnd.nextInt(8));
                    }
                }
                case 1 -> m[at] = (byte) new int[] {0, 1, 2, 0x7F, 0x80, 0xFF}[rnd.nextInt(6)];
                case 2 -> {
                    long v = interesting[rnd.nextInt(interesting.length)];
                    int width = rnd.nextBoolean() ? 8 : 4;
                    for (int k = 0; k < width && at + k < m.length; k++) {
                        m[at + k] = (byte) (v >>> (8 * k));
                    }
                }
                case 3 -> m = Arrays.copyOf(m, rnd.nextInt(m.length));
                case 4 -> {
                    byte[] ins = new byte[1 + rnd.nextInt(8)];
                    rnd.nextBytes(ins);
                    m = concat(Arrays.copyOf(m, at), ins, Arrays.copyOfRange(m, at, m.length));
                }
                default -> m = concat(Arrays.copyOf(m, at), Arrays.copyOfRange(m, Math.min(m.length, at + 1 + rnd.nextInt(8)),
                        m.length));
            }
            try (GgufFile f = open(file, m, iter)) {
                for (GgufTensorInfo t : f.tensors()) {
                    TensorView v = f.view(t);
                    long last = v.data().byteSize() - 1;
                    v.data().get(ValueLayout.JAVA_BYTE, 0);
                    v.data().get(ValueLayout.JAVA_BYTE, last);
                    assertTrue(f.absoluteOffset(t) + t.byteSize() <= f.fileSize(), "iteration " + iter);
                }
                opened++;
            } catch (GgufFormatException e) {
                assertFalse(e.getMessage().contains(INTERNAL), "iteration " + iter + ": " + e.getMessage());
                assertTrue(e.offset() >= 0 && e.offset() <= m.length, "iteration " + iter + ": " + e.getMessage());
                rejected++;
            } catch (RuntimeException | Error e) {
                throw new AssertionError("iteration " + iter + " threw " + e, e);
            }
        }
        assertTrue(opened > iterations / 20 && rejected > iterations / 2, "opened " + opened + ", rejected " + rejected);
    }

    /** The bytes of {@link GgufSamples#smallWriter()}'s file. */
    private byte[] smallFile() throws IOException {
        Path whole = dir.resolve("whole.gguf");
        GgufSamples.smallWriter().write(whole);
        return Files.readAllBytes(whole);
    }

    /**
     * Opens {@code bytes} as {@code file}: every 16th try through a real file, memory-mapped or read
     * (alternately), the others parsed from memory, which is the same code minus the file I/O that
     * would dominate the run time.
     */
    private static GgufFile open(Path file, byte[] bytes, int attempt) throws IOException {
        if (attempt % 16 == 0) {
            Files.write(file, bytes);
            return GgufFile.open(file, attempt % 32 == 0 ? GgufFile.Options.DEFAULT : GgufFile.Options.IN_MEMORY);
        }
        return GgufFile.ofBytes(file, bytes);
    }

    private static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        byte[] out = new byte[n];
        int o = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, o, p.length);
            o += p.length;
        }
        return out;
    }

    private static String hex(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) {
            s.append(String.format("%02X", x));
        }
        return s.toString();
    }
}
