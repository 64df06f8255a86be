/*
 * fuzz_bpe_encode.c - the GPT-2 tokenizer on arbitrary bytes (invalid UTF-8
 * included) through the public API: loupe_tokenizer_encode, then decode
 * must give the bytes back exactly, and every id must render.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_target.h"

/* The GPT-2 tokenizer, opened once. */
static loupe_tokenizer *gpt2_tokenizer(void) {
    static loupe_tokenizer *tokenizer;
    if (tokenizer == NULL) {
        loupe_error error;
        if (loupe_tokenizer_open(fuzz_tokenizer_directory(), &tokenizer, &error) != LOUPE_OK) {
            fprintf(stderr, "fuzz: cannot open the tokenizer: %s\n", error.message);
            abort();
        }
    }
    return tokenizer;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    loupe_tokenizer *tokenizer = gpt2_tokenizer();
    int32_t *ids = NULL;
    size_t count = 0;
    loupe_error error;
    loupe_status status = loupe_tokenizer_encode(tokenizer, (const char *)data, size, &ids, &count, &error);
    fuzz_check_error(status, &error);
    if (status != LOUPE_OK) return 0;
    if (count > size) fuzz_fail("more tokens than bytes");
    char *text = NULL;
    size_t length = 0;
    status = loupe_tokenizer_decode(tokenizer, ids, count, &text, &length, &error);
    if (status != LOUPE_OK) fuzz_fail("the encoder's own ids do not decode");
    if (length != size || (size > 0 && memcmp(text, data, size) != 0)) fuzz_fail("decode(encode(x)) != x");
    char rendered[64];
    for (size_t i = 0; i < count; i++) {
        size_t needed = loupe_tokenizer_render(tokenizer, ids[i], rendered, sizeof rendered);
        size_t written = strlen(rendered);
        if (written > needed || (needed < sizeof rendered && written != needed))
            fuzz_fail("a rendering whose length is not what render returned");
    }
    loupe_free(text);
    loupe_free(ids);
    return 0;
}
