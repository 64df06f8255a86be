/*
 * fuzz_tokenizer_json.c - a hostile tokenizer.json, then a text encoded with
 * it: the input is "tokenizer.json NUL text" (a JSON text holds no raw NUL).
 * When the file is accepted, the text is encoded with and without special
 * tokens; every id must be a token, and the ids must decode and render.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_target.h"
#include "tokenizer/tokenizer_json.h"

static void encode_and_check(const tokenizer_json *tokenizer, const char *text, size_t length, bool special) {
    int32_t *ids = NULL;
    size_t count = 0;
    loupe_error error;
    loupe_status status = tokenizer_json_encode(tokenizer, text, length, special, special, &ids, &count, &error);
    fuzz_check_error(status, &error);
    if (status != LOUPE_OK) return;
    for (size_t i = 0; i < count; i++)
        if (ids[i] < 0 || ids[i] >= tokenizer->vocab.n_tokens) fuzz_fail("an id that is no token");
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *json_text = (const char *)data;
    const char *nul = memchr(json_text, '\0', size);
    size_t json_length = nul ? (size_t)(nul - json_text) : size;
    const char *text = nul ? nul + 1 : "Hello world, it's 12345 <s> \xE2\x96\x81\t\xC3\xA9\xFF";
    size_t text_length = nul ? size - json_length - 1 : strlen(text);
    tokenizer_json *tokenizer = NULL;
    loupe_error error;
    loupe_status status = tokenizer_json_parse(json_text, json_length, "tokenizer.json", &tokenizer, &error);
    fuzz_check_error(status, &error);
    if (status != LOUPE_OK) return 0;
    encode_and_check(tokenizer, text, text_length, true);
    encode_and_check(tokenizer, text, text_length, false);
    tokenizer_json_free(tokenizer);
    return 0;
}
