package dev.spillway.engine.tokenizer;

import java.util.SplittableRandom;

/** Random strings mixing ASCII, whitespace runs, accents, CJK, emoji and other scripts (valid UTF-16 only). */
final class RandomText {
    private static final String[] POOLS = {
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "0123456789",
        " ",
        "   \t\n\r",
        ".,;:!?'\"()[]{}<>-_/\\|@#$%^&*+=~`",
        "éèêëñüöçàÅØß",
        "\u0301\u0308", // combining marks
        "日本語中文字漢한국어",
        "Привет мир",
        "مرحبا",
        "\u00A0\u3000\u2003", // non-ASCII white space
    };

    private RandomText() {
    }

    static String next(SplittableRandom random, int maxLength) {
        int length = random.nextInt(maxLength + 1);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < length; i++) {
            switch (random.nextInt(POOLS.length + 2)) {
                case 0 -> sb.appendCodePoint(random.nextInt(0x1F600, 0x1F650)); // emoji
                case 1 -> sb.appendCodePoint(random.nextInt(0x20, 0x2580)); // assorted BMP below U+2581
                default -> {
                    String pool = POOLS[random.nextInt(POOLS.length)];
                    sb.append(pool.charAt(random.nextInt(pool.length())));
                }
            }
        }
        return sb.toString();
    }
}
