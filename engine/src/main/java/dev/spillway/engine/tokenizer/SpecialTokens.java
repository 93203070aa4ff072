package dev.spillway.engine.tokenizer;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Finds tokens of chosen types spelled out literally in a text: at each position the longest
 * token that starts there wins.
 */
final class SpecialTokens {
    private final Vocabulary vocab;
    /** First UTF-16 unit of some token, for a cheap test at each position. */
    private final BitSet firstChars = new BitSet(Character.MAX_VALUE + 1);
    /** By first UTF-16 unit, the candidate token ids, longest text first. */
    private final Map<Character, int[]> byFirstChar = new HashMap<>();

    SpecialTokens(Vocabulary vocab, Set<TokenType> types) {
        this.vocab = vocab;
        Map<Character, List<Integer>> lists = new HashMap<>();
        for (int id = 0; id < vocab.size(); id++) {
            String text = vocab.token(id);
            if (!text.isEmpty() && types.contains(vocab.type(id))) {
                lists.computeIfAbsent(text.charAt(0), c -> new ArrayList<>()).add(id);
            }
        }
        Comparator<Integer> longestFirst = Comparator.comparingInt((Integer id) -> vocab.token(id).length()).reversed()
                .thenComparingInt(id -> id);
        lists.forEach((c, ids) -> {
            ids.sort(longestFirst);
            byFirstChar.put(c, ids.stream().mapToInt(Integer::intValue).toArray());
            firstChars.set(c);
        });
    }

    boolean isEmpty() {
        return byFirstChar.isEmpty();
    }

    /** The id of the longest token spelled at {@code text[at..]}, or -1. */
    int matchAt(String text, int at) {
        char c = text.charAt(at);
        if (!firstChars.get(c)) {
            return -1;
        }
        for (int id : byFirstChar.get(c)) {
            if (text.startsWith(vocab.token(id), at)) {
                return id;
            }
        }
        return -1;
    }
}
