package dev.spillway.engine.tokenizer;

import java.util.HashMap;
import java.util.Map;

/**
 * The {@code gpt2} model: byte-level BPE. The text is split into words by the pre-tokenizer, each
 * word's UTF-8 bytes are written with GPT-2's byte characters, and within a word the adjacent pair
 * with the lowest merge rank ({@code tokenizer.ggml.merges} order) merges first. With the Llama 3
 * pre-tokenizer a word that is a token as a whole is taken as is ({@code ignore_merges}). Like
 * llama.cpp's BPE tokenizer it adds no space prefix ({@code add_space_prefix} is not read).
 */
final class BpeTokenizer extends BaseTokenizer {
    private static final System.Logger LOG = System.getLogger(BpeTokenizer.class.getName());

    private final PreTokenizer preTokenizer;
    /** (left id << 32 | right id) to the merged token and its rank. */
    private final Map<Long, SymbolMerger.Merge> merges;

    private BpeTokenizer(Vocabulary vocab, Settings settings, Metadata md, PreTokenizer preTokenizer,
                         Map<Long, SymbolMerger.Merge> merges) {
        super(vocab, settings, md, id -> ByteLevel.decode(vocab.token(id)));
        this.preTokenizer = preTokenizer;
        this.merges = merges;
    }

    static BpeTokenizer create(Metadata md) {
        Vocabulary vocab = Vocabulary.read(md, false);
        String[] rules = md.strings(Metadata.MERGES);
        if (rules == null) {
            throw new TokenizerException("missing " + Metadata.MERGES + ", which the gpt2 tokenizer needs");
        }
        Map<Long, SymbolMerger.Merge> merges = HashMap.newHashMap(rules.length);
        int unusable = 0;
        for (int rank = 0; rank < rules.length; rank++) {
            String rule = rules[rank];
            int space = rule == null || rule.isEmpty() ? -1 : rule.indexOf(' ', 1);
            if (space < 0) {
                throw new TokenizerException(Metadata.MERGES + "[" + rank + "] = \"" + rule
                        + "\" is not two tokens separated by a space");
            }
            String left = rule.substring(0, space);
            String right = rule.substring(space + 1);
            int leftId = vocab.textId(left);
            int rightId = vocab.textId(right);
            int mergedId = vocab.textId(left + right);
            if (leftId < 0 || rightId < 0 || mergedId < 0) {
                unusable++;
                continue;
            }
            merges.putIfAbsent(pair(leftId, rightId), new SymbolMerger.Merge(mergedId, rank));
        }
        if (unusable > 0) {
            LOG.log(System.Logger.Level.WARNING, "{0} of {1} entries in {2} name tokens missing from the vocabulary;"
                    + " they are ignored", unusable, rules.length, Metadata.MERGES);
        }
        int missingBytes = 0;
        for (int b = 0; b < 256; b++) {
            if (vocab.textId(String.valueOf(ByteLevel.charOf(b))) < 0) {
                missingBytes++;
            }
        }
        if (missingBytes > 0) {
            LOG.log(System.Logger.Level.WARNING, "the gpt2 vocabulary lacks tokens for {0} of the 256 bytes;"
                    + " text containing them encodes as the unknown token or fails", missingBytes);
        }
        PreTokenizer pre = PreTokenizer.forName(md.string(Metadata.PRE));
        return new BpeTokenizer(vocab, Settings.read("gpt2", md, vocab, false, false), md, pre, merges);
    }

    PreTokenizer preTokenizer() {
        return preTokenizer;
    }

    private static long pair(int leftId, int rightId) {
        return (long) leftId << 32 | rightId;
    }

    /** Two tokens merge if a rule names them; the lower its rank, the sooner. */
    private SymbolMerger.Merge merge(String text, int start, int mid, int end, int leftId, int rightId) {
        return leftId < 0 || rightId < 0 ? null : merges.get(pair(leftId, rightId));
    }

    @Override
    void encodeText(String fragment, boolean afterSpecial, IntList out) {
        for (String word : preTokenizer.split(fragment)) {
            String spelled = ByteLevel.encode(word);
            int whole = preTokenizer.ignoresMerges() ? vocab.textId(spelled) : -1;
            if (whole >= 0) {
                out.add(whole);
                continue;
            }
            SymbolMerger.merge(spelled, vocab, this::merge, (s, start, end, id) -> {
                if (id >= 0) {
                    out.add(id);
                } else if (unknownId() >= 0) {
                    out.add(unknownId());
                } else {
                    throw new IllegalArgumentException(String.format(
                            "cannot encode byte 0x%02X: the vocabulary has no token for it and no unknown token",
                            ByteLevel.decode(s.substring(start, end))[0] & 0xFF));
                }
            });
        }
    }
}
