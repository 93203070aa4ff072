package dev.spillway.engine.tokenizer;

import java.util.PriorityQueue;

/**
 * The merge loop both BPE variants share: the text starts as a row of symbols (one per character);
 * the adjacent pair with the best (lowest) priority is merged into one symbol, ties going to the
 * leftmost pair, until no pair can merge. A priority queue of candidate pairs makes it
 * O(n log n); candidates made stale by an earlier merge are skipped when they come up. Each
 * character starts as the NORMAL token spelled like it, if any.
 */
final class SymbolMerger {

    /** The result of merging two adjacent symbols: the token it becomes and how urgently. */
    record Merge(int id, double priority) {
    }

    /** Decides which adjacent symbols may merge. */
    @FunctionalInterface
    interface Rules {
        /**
         * The merge of the adjacent symbols {@code text[start, mid)} (token {@code leftId}, -1 if none)
         * and {@code text[mid, end)} (token {@code rightId}), or null if they do not merge.
         */
        Merge merge(String text, int start, int mid, int end, int leftId, int rightId);
    }

    /** Receives the final symbols in order. */
    interface Sink {
        /** {@code id} is -1 for a character that has no token. */
        void accept(String text, int start, int end, int id);
    }

    private record Candidate(int left, int right, int rightEnd, Merge merge) {
    }

    private SymbolMerger() {
    }

    static void merge(String text, Vocabulary vocab, Rules rules, Sink sink) {
        int n = text.codePointCount(0, text.length());
        if (n == 0) {
            return;
        }
        // symbol i covers text[start[i], end[i]); prev/next link the live symbols, -1 at the ends
        int[] start = new int[n];
        int[] end = new int[n];
        int[] id = new int[n];
        int[] prev = new int[n];
        int[] next = new int[n];
        for (int i = 0, pos = 0; i < n; i++) {
            start[i] = pos;
            pos += Character.charCount(text.codePointAt(pos));
            end[i] = pos;
            id[i] = vocab.textId(text.substring(start[i], end[i]));
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        PriorityQueue<Candidate> queue = new PriorityQueue<>(2 * n,
                (a, b) -> a.merge().priority() != b.merge().priority()
                        ? Double.compare(a.merge().priority(), b.merge().priority())
                        : Integer.compare(a.left(), b.left()));
        for (int i = 0; i + 1 < n; i++) {
            offer(queue, text, rules, i, i + 1, start, end, id);
        }
        while (!queue.isEmpty()) {
            Candidate c = queue.poll();
            int l = c.left();
            int r = c.right();
            // stale if either side died or the right side has grown since the candidate was made
            if (start[l] < 0 || start[r] < 0 || next[l] != r || end[r] != c.rightEnd()) {
                continue;
            }
            end[l] = end[r];
            id[l] = c.merge().id();
            start[r] = -1;
            next[l] = next[r];
            if (next[l] >= 0) {
                prev[next[l]] = l;
            }
            if (prev[l] >= 0) {
                offer(queue, text, rules, prev[l], l, start, end, id);
            }
            if (next[l] >= 0) {
                offer(queue, text, rules, l, next[l], start, end, id);
            }
        }
        for (int i = 0; i >= 0; i = next[i]) {
            sink.accept(text, start[i], end[i], id[i]);
        }
    }

    private static void offer(PriorityQueue<Candidate> queue, String text, Rules rules, int l, int r,
                              int[] start, int[] end, int[] id) {
        Merge m = rules.merge(text, start[l], start[r], end[r], id[l], id[r]);
        if (m != null) {
            queue.add(new Candidate(l, r, end[r], m));
        }
    }
}
