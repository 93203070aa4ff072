package dev.spillway.engine.tokenizer;

import java.nio.charset.StandardCharsets;

/**
 * The {@code llama} model: SentencePiece-style BPE. Spaces become U+2581; starting from single
 * characters, the adjacent pair whose concatenation is a vocabulary token with the highest score
 * merges first. A character without a token is spelled with its UTF-8 bytes' {@code <0xXX>}
 * tokens, or the unknown token when there are none.
 */
final class SpmTokenizer extends BaseTokenizer {
    static final char SPACE_MARK = '\u2581';

    private final boolean addSpacePrefix;
    private final int[] byteIds;
    /** Per token id, its merge (priority = -score), null for tokens that plain text cannot be spelled with. */
    private final SymbolMerger.Merge[] merges;

    private SpmTokenizer(Vocabulary vocab, Settings settings, Metadata md, boolean addSpacePrefix) {
        super(vocab, settings, md, id -> vocab.token(id).replace(SPACE_MARK, ' ').getBytes(StandardCharsets.UTF_8));
        this.addSpacePrefix = addSpacePrefix;
        this.byteIds = vocab.byteTokenIds();
        this.merges = new SymbolMerger.Merge[vocab.size()];
        for (int id = 0; id < vocab.size(); id++) {
            if (vocab.type(id).isText()) {
                merges[id] = new SymbolMerger.Merge(id, -(double) vocab.score(id));
            }
        }
    }

    static SpmTokenizer create(Metadata md) {
        Vocabulary vocab = Vocabulary.read(md, !md.has(Metadata.TOKEN_TYPE));
        if (!md.has(Metadata.SCORES)) {
            System.getLogger(SpmTokenizer.class.getName()).log(System.Logger.Level.WARNING,
                    "{0} is missing; all llama tokens score 0, which makes the merge order arbitrary", Metadata.SCORES);
        }
        boolean addSpacePrefix = md.bool(Metadata.ADD_SPACE_PREFIX, true);
        return new SpmTokenizer(vocab, Settings.read("llama", md, vocab, true, addSpacePrefix), md, addSpacePrefix);
    }

    @Override
    void encodeText(String fragment, boolean afterSpecial, IntList out) {
        String text = (addSpacePrefix && afterSpecial ? " " + fragment : fragment).replace(' ', SPACE_MARK);
        SymbolMerger.merge(text, vocab, this::merge, (s, start, end, id) -> {
            if (id >= 0) {
                out.add(id);
            } else {
                byteFallback(s.substring(start, end), out);
            }
        });
    }

    /** Two symbols merge if together they spell a token; the higher its score, the sooner. */
    private SymbolMerger.Merge merge(String text, int start, int mid, int end, int leftId, int rightId) {
        int id = vocab.textId(text.substring(start, end));
        return id < 0 ? null : merges[id];
    }

    /** Spells a character that has no token with its bytes, or the unknown token. */
    private void byteFallback(String character, IntList out) {
        byte[] bytes = character.getBytes(StandardCharsets.UTF_8);
        boolean allBytes = true;
        for (byte b : bytes) {
            allBytes &= byteIds[b & 0xFF] >= 0;
        }
        if (allBytes) {
            for (byte b : bytes) {
                out.add(byteIds[b & 0xFF]);
            }
        } else if (unknownId() >= 0) {
            out.add(unknownId());
        } else {
            throw new IllegalArgumentException(String.format(
                    "cannot encode U+%04X: the vocabulary has no token, no byte tokens and no unknown token for it",
                    character.codePointAt(0)));
        }
    }
}
