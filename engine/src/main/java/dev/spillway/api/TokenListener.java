package dev.spillway.api;

/** Receives generated text as it is produced. */
@FunctionalInterface
public interface TokenListener {
    /**
     * Called once per generated token with the text it completes. {@code text} can be empty when a
     * token holds only part of a UTF-8 character; that text arrives with a later token.
     */
    void onToken(int tokenId, String text);
}
