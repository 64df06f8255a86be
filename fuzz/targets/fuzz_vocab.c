/*
 * fuzz_vocab.c - vocab.json on any bytes: bpe_vocab_parse, then every token
 * it accepts found again by its byte-level spelling.
 */
#include "fuzz_target.h"
#include "tokenizer/byte_unicode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    bpe_vocab vocab;
    loupe_error error;
    loupe_status status = bpe_vocab_parse((const char *)data, size, "vocab.json", &vocab, &error);
    fuzz_check_error(status, &error);
    if (status != LOUPE_OK) return 0;
    for (int b = 0; b < 256; b++) {
        size_t length = 0;
        int32_t id = vocab.byte_ids[b];
        if (id < 0 || id >= vocab.n_tokens) fuzz_fail("a byte without its token");
        const char *token = bpe_vocab_token(&vocab, id, &length);
        if (length != 1 || (uint8_t)token[0] != b) fuzz_fail("a byte token that is not its byte");
    }
    char spelling[4096 * BYTE_UNICODE_MAX_UTF8];
    for (int32_t id = 0; id < vocab.n_tokens; id++) {
        size_t length = 0, written = 0;
        const char *token = bpe_vocab_token(&vocab, id, &length);
        if (length == 0) fuzz_fail("an empty token");
        if (length > 4096) continue;
        for (size_t i = 0; i < length; i++)
            written += byte_unicode_encode_utf8((uint8_t)token[i], spelling + written);
        if (bpe_vocab_find(&vocab, spelling, written) != id) fuzz_fail("a token not found by its spelling");
    }
    bpe_vocab_free(&vocab);
    return 0;
}
