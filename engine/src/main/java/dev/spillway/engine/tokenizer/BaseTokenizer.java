package dev.spillway.engine.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.BitSet;
import java.util.EnumSet;
import java.util.Objects;
import java.util.Set;
import java.util.function.IntFunction;

/**
 * What the two tokenizer models share: special ids, end-of-generation tokens, splitting the text at
 * special tokens, and byte-level detokenization. Subclasses encode the plain-text fragments and say
 * how a NORMAL token renders.
 */
abstract sealed class BaseTokenizer implements Tokenizer permits SpmTokenizer, BpeTokenizer {

    /** Control tokens that end a turn or a text in common chat templates (names as they appear in vocabularies). */
    private static final Set<String> END_MARKERS = Set.of(
            "<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
            "<|end_of_text|>", "<EOT>", "<|return|>");

    private static final byte[] EMPTY = new byte[0];
    private static final byte[] REPLACEMENT = "\uFFFD".getBytes(StandardCharsets.UTF_8);

    /** The settings both models read from the metadata. */
    record Settings(String model, int bos, int eos, int unk, boolean addBos, boolean addEos, boolean stripsPrefixSpace) {

        static Settings read(String model, Metadata md, Vocabulary vocab, boolean addBosDefault, boolean stripsPrefixSpace) {
            int n = vocab.size();
            int bos = md.tokenId(Metadata.BOS_ID, n);
            return new Settings(model, bos, md.tokenId(Metadata.EOS_ID, n), md.tokenId(Metadata.UNK_ID, n),
                    bos >= 0 && md.bool(Metadata.ADD_BOS, addBosDefault), md.bool(Metadata.ADD_EOS, false),
                    stripsPrefixSpace);
        }
    }

    final Vocabulary vocab;
    private final Settings settings;
    private final BitSet endOfGeneration = new BitSet();
    /** Rendering of every token without special tokens spelled out. */
    private final byte[][] textBytes;
    /** Rendering of every token with special tokens spelled out. */
    private final byte[][] specialBytes;
    private final SpecialTokens userDefined;
    private final SpecialTokens special;

    /**
     * @param renderNormal the bytes a NORMAL token stands for
     */
    BaseTokenizer(Vocabulary vocab, Settings settings, Metadata md, IntFunction<byte[]> renderNormal) {
        this.vocab = vocab;
        this.settings = settings;
        int n = vocab.size();
        for (int id : new int[] {settings.eos(), md.tokenId(Metadata.EOT_ID, n), md.tokenId(Metadata.EOM_ID, n)}) {
            if (id >= 0) {
                endOfGeneration.set(id);
            }
        }
        textBytes = new byte[n][];
        specialBytes = new byte[n][];
        for (int id = 0; id < n; id++) {
            TokenType type = vocab.type(id);
            byte[] spelled = vocab.token(id).getBytes(StandardCharsets.UTF_8);
            textBytes[id] = switch (type) {
                case NORMAL, UNDEFINED -> renderNormal.apply(id);
                case BYTE -> {
                    int b = Vocabulary.byteValue(vocab.token(id));
                    yield b >= 0 ? new byte[] {(byte) b} : spelled;
                }
                case USER_DEFINED -> spelled;
                case UNKNOWN -> REPLACEMENT;
                case CONTROL, UNUSED -> EMPTY;
            };
            specialBytes[id] = switch (type) {
                case CONTROL, UNKNOWN, UNUSED -> spelled;
                default -> textBytes[id];
            };
            if ((type == TokenType.CONTROL || type == TokenType.USER_DEFINED) && END_MARKERS.contains(vocab.token(id))) {
                endOfGeneration.set(id);
            }
        }
        userDefined = new SpecialTokens(vocab, EnumSet.of(TokenType.USER_DEFINED));
        special = new SpecialTokens(vocab, EnumSet.of(TokenType.USER_DEFINED, TokenType.CONTROL, TokenType.UNKNOWN));
    }

    /**
     * Encodes a fragment of plain text (no special tokens in it) and appends the ids.
     *
     * @param afterSpecial whether the fragment starts the text or follows a special token
     */
    abstract void encodeText(String fragment, boolean afterSpecial, IntList out);

    @Override
    public final int[] encode(String text, boolean addBos, boolean parseSpecial) {
        Objects.requireNonNull(text, "text");
        IntList out = new IntList(text.length() / 3 + 2);
        if (addBos) {
            if (settings.bos() < 0) {
                throw new IllegalStateException("this " + settings.model() + " vocabulary has no BOS token ("
                        + Metadata.BOS_ID + ")");
            }
            out.add(settings.bos());
        }
        SpecialTokens specials = parseSpecial ? special : userDefined;
        int fragmentStart = 0;
        boolean afterSpecial = true;
        if (!specials.isEmpty()) {
            int i = 0;
            while (i < text.length()) {
                int id = specials.matchAt(text, i);
                if (id < 0) {
                    i++;
                    continue;
                }
                if (i > fragmentStart) {
                    encodeText(text.substring(fragmentStart, i), afterSpecial, out);
                }
                out.add(id);
                afterSpecial = true;
                i += vocab.token(id).length();
                fragmentStart = i;
            }
        }
        if (fragmentStart < text.length()) {
            encodeText(text.substring(fragmentStart), afterSpecial, out);
        }
        return out.toArray();
    }

    @Override
    public final Decoder newDecoder(DecodeOptions options) {
        Objects.requireNonNull(options, "options");
        return new Decoder() {
            private final Utf8Stream utf8 = new Utf8Stream();
            private boolean stripPending = options.stripLeadingSpace() && settings.stripsPrefixSpace();

            @Override
            public String push(int id) {
                vocab.checkId(id);
                byte[] bytes = (options.renderSpecial() ? specialBytes : textBytes)[id];
                if (stripPending && bytes.length > 0) {
                    stripPending = false;
                    if (bytes[0] == ' ' && vocab.type(id).isText()) {
                        bytes = java.util.Arrays.copyOfRange(bytes, 1, bytes.length);
                    }
                }
                return utf8.push(bytes);
            }

            @Override
            public String finish() {
                stripPending = options.stripLeadingSpace() && settings.stripsPrefixSpace();
                return utf8.finish();
            }
        };
    }

    @Override
    public final String model() {
        return settings.model();
    }

    @Override
    public final int vocabSize() {
        return vocab.size();
    }

    @Override
    public final int bosId() {
        return settings.bos();
    }

    @Override
    public final int eosId() {
        return settings.eos();
    }

    @Override
    public final int unknownId() {
        return settings.unk();
    }

    @Override
    public final boolean addBos() {
        return settings.addBos();
    }

    @Override
    public final boolean addEos() {
        return settings.addEos();
    }

    @Override
    public final boolean isEndOfGeneration(int id) {
        return id >= 0 && endOfGeneration.get(id);
    }

    @Override
    public final TokenType tokenType(int id) {
        vocab.checkId(id);
        return vocab.type(id);
    }

    @Override
    public final String piece(int id) {
        vocab.checkId(id);
        return vocab.token(id);
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[model=" + settings.model() + ", vocab=" + vocab.size()
                + ", bos=" + settings.bos() + ", eos=" + settings.eos() + "]";
    }
}
