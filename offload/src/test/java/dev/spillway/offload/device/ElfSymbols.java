package dev.spillway.offload.device;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Just enough ELF64 and clang-offload-bundle reading to list the function symbols of a cubin or an
 * AMDGPU code object, so tests can check that the committed device code exports every kernel that
 * cuModuleGetFunction / hipModuleGetFunction will ask for.
 */
final class ElfSymbols {
    private static final int SHT_SYMTAB = 2;
    private static final int STT_FUNC = 2;

    private ElfSymbols() {
    }

    /** Names of the FUNC symbols of a little-endian ELF64 image. */
    static TreeSet<String> functions(byte[] elf) {
        ByteBuffer b = ByteBuffer.wrap(elf).order(ByteOrder.LITTLE_ENDIAN);
        if (b.getInt(0) != 0x464c457f || elf[4] != 2 || elf[5] != 1) {
            throw new IllegalArgumentException("not a little-endian ELF64 image");
        }
        long shoff = b.getLong(0x28);
        int shentsize = Short.toUnsignedInt(b.getShort(0x3a));
        int shnum = Short.toUnsignedInt(b.getShort(0x3c));
        TreeSet<String> names = new TreeSet<>();
        for (int i = 0; i < shnum; i++) {
            int sh = Math.toIntExact(shoff + (long) i * shentsize);
            if (b.getInt(sh + 4) != SHT_SYMTAB) {
                continue;
            }
            int offset = Math.toIntExact(b.getLong(sh + 0x18));
            int size = Math.toIntExact(b.getLong(sh + 0x20));
            int link = b.getInt(sh + 0x28);
            int entsize = Math.toIntExact(b.getLong(sh + 0x38));
            int strtab = Math.toIntExact(b.getLong(Math.toIntExact(shoff + (long) link * shentsize) + 0x18));
            for (int s = offset; s + entsize <= offset + size; s += entsize) {
                if ((elf[s + 4] & 0xf) == STT_FUNC) {
                    names.add(cString(elf, strtab + b.getInt(s)));
                }
            }
        }
        return names;
    }

    /** The code objects of a clang offload bundle, by target triple (e.g. {@code hipv4-amdgcn-amd-amdhsa--gfx90a}). */
    static Map<String, byte[]> bundleEntries(byte[] bundle) {
        String magic = "__CLANG_OFFLOAD_BUNDLE__";
        if (!new String(bundle, 0, magic.length(), StandardCharsets.US_ASCII).equals(magic)) {
            throw new IllegalArgumentException("not a clang offload bundle");
        }
        ByteBuffer b = ByteBuffer.wrap(bundle).order(ByteOrder.LITTLE_ENDIAN);
        int pos = magic.length();
        long n = b.getLong(pos);
        pos += 8;
        Map<String, byte[]> entries = new LinkedHashMap<>();
        for (long i = 0; i < n; i++) {
            int offset = Math.toIntExact(b.getLong(pos));
            int size = Math.toIntExact(b.getLong(pos + 8));
            int tripleSize = Math.toIntExact(b.getLong(pos + 16));
            String triple = new String(bundle, pos + 24, tripleSize, StandardCharsets.US_ASCII);
            pos += 24 + tripleSize;
            entries.put(triple, java.util.Arrays.copyOfRange(bundle, offset, offset + size));
        }
        return entries;
    }

    /** Kernel names in PTX text ({@code .entry NAME(}). */
    static TreeSet<String> ptxEntries(String ptx) {
        TreeSet<String> names = new TreeSet<>();
        var m = java.util.regex.Pattern.compile("\\.entry\\s+([A-Za-z_][A-Za-z0-9_]*)\\s*\\(").matcher(ptx);
        while (m.find()) {
            names.add(m.group(1));
        }
        return names;
    }

    private static String cString(byte[] bytes, int at) {
        int end = at;
        while (bytes[end] != 0) {
            end++;
        }
        return new String(bytes, at, end - at, StandardCharsets.US_ASCII);
    }

    static List<String> missing(TreeSet<String> wanted, TreeSet<String> have) {
        List<String> out = new ArrayList<>(wanted);
        out.removeAll(have);
        return out;
    }
}
