package dev.spillway.cli;

import dev.spillway.api.ContextParams;
import dev.spillway.engine.tensor.GgmlType;
import picocli.CommandLine.Option;

/** Options that shape a context, with llama.cpp's names. */
final class ContextOptions {
    @Option(names = {"-c", "--ctx-size"}, paramLabel = "N",
            description = "Context size in tokens (0 = the model's, at most " + ContextParams.DEFAULT_MAX_CONTEXT + "). Default: ${DEFAULT-VALUE}.")
    int contextSize = 0;

    @Option(names = {"-b", "--batch-size"}, paramLabel = "N",
            description = "Tokens per forward pass while reading the prompt. Default: ${DEFAULT-VALUE}.")
    int batchSize = 512;

    @Option(names = {"-ctk", "--cache-type-k"}, paramLabel = "TYPE", converter = CacheTypeConverter.class,
            description = "KV cache type for K: f32, f16, bf16, q8_0, q4_0. Default: f16.")
    GgmlType keyType = GgmlType.F16;

    @Option(names = {"-ctv", "--cache-type-v"}, paramLabel = "TYPE", converter = CacheTypeConverter.class,
            description = "KV cache type for V: f32, f16, bf16, q8_0, q4_0. Default: f16.")
    GgmlType valueType = GgmlType.F16;

    @Option(names = "--max-cache-tokens", paramLabel = "N",
            description = "The most tokens the KV cache holds, whatever -c says (0 = no cap); generation stops there. Default: ${DEFAULT-VALUE}.")
    int maxCacheTokens = 0;

    ContextParams toParams() {
        return ContextParams.defaults()
                .withContextSize(contextSize)
                .withBatchSize(batchSize)
                .withKeyType(keyType)
                .withValueType(valueType)
                .withMaxCacheTokens(maxCacheTokens);
    }

    static final class CacheTypeConverter implements picocli.CommandLine.ITypeConverter<GgmlType> {
        @Override
        public GgmlType convert(String value) {
            try {
                return ContextParams.parseCacheType(value);
            } catch (IllegalArgumentException e) {
                throw new picocli.CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }
}
