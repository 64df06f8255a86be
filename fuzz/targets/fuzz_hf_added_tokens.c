/*
 * fuzz_hf_added_tokens.c - hostile tokenizer_config.json,
 * special_tokens_map.json and added_tokens.json over the GPT-2 vocab.json:
 * the input is "config NUL special map NUL added tokens NUL text" (a part
 * of length 0 is an absent file). When the files are accepted, the text is
 * split with the tokens they give, in both groups, with and without special
 * tokens, and the segments must tile the text with ids of kept tokens.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_target.h"
#include "tokenizer/hf_added_tokens.h"
#include "util/file_map.h"

/* The GPT-2 vocabulary, loaded once for every input. */
static const bpe_vocab *gpt2_vocab(void) {
    static bpe_vocab vocab;
    static int loaded;
    if (loaded) return &vocab;
    char *path = path_join(fuzz_tokenizer_directory(), "vocab.json");
    loupe_error error;
    if (path == NULL || bpe_vocab_load(path, &vocab, &error) != LOUPE_OK) fuzz_fail("the GPT-2 vocab.json");
    free(path);
    loaded = 1;
    return &vocab;
}

/* Cuts the next NUL-terminated part off *data (*size bytes left). */
static hf_tokenizer_file next_part(const char *name, const uint8_t **data, size_t *size) {
    const uint8_t *nul = memchr(*data, '\0', *size);
    size_t length = nul ? (size_t)(nul - *data) : *size;
    hf_tokenizer_file file = {.name = name, .text = length ? (const char *)*data : NULL, .length = length};
    *data += length + (nul ? 1 : 0);
    *size -= length + (nul ? 1 : 0);
    return file;
}

/* Whether the bytes (length) hold needle (needle_length) somewhere. */
static int holds(const uint8_t *bytes, size_t length, const char *needle, size_t needle_length) {
    for (size_t at = 0; at + needle_length <= length; at++)
        if (memcmp(bytes + at, needle, needle_length) == 0) return 1;
    return 0;
}

static void check_split(const added_vocabulary *tokens, const uint8_t *text, size_t length, unsigned flags) {
    added_splitter splitter;
    added_splitter_init(&splitter, tokens, (const char *)text, length, flags);
    added_segment segment;
    size_t at = 0;
    int previous_plain = 0;
    while (added_splitter_next(&splitter, &segment)) {
        if (segment.start != at) fuzz_fail("segments that do not tile the text");
        if (segment.length > length - at) fuzz_fail("a segment past the end");
        if (segment.id < 0) {
            if (segment.length == 0 || previous_plain) fuzz_fail("an empty or a second plain segment");
        } else {
            const added_token *token = segment.token;
            if (token == NULL || token->id != segment.id || segment.length < token->length ||
                added_vocabulary_find_id(tokens, segment.id) == NULL)
                fuzz_fail("a segment of no kept token");
            if (!holds(text + segment.start, segment.length, token->content, token->length))
                fuzz_fail("a segment without its token's content");
            if ((flags & ADDED_SPLIT_SKIP_SPECIAL) && token->special) fuzz_fail("a skipped special token");
            if (((flags & ADDED_SPLIT_NORMALIZED) != 0) != token->normalized) fuzz_fail("a token of the other group");
        }
        previous_plain = segment.id < 0;
        at += segment.length;
    }
    if (at != length) fuzz_fail("segments that stop before the end");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hf_tokenizer_files files;
    files.config = next_part("tokenizer_config.json", &data, &size);
    files.special_map = next_part("special_tokens_map.json", &data, &size);
    files.added = next_part("added_tokens.json", &data, &size);
    added_vocabulary *tokens = NULL;
    int32_t bos = 0;
    loupe_error error;
    loupe_status status = hf_added_tokens_parse(&files, gpt2_vocab(), &tokens, &bos, &error);
    fuzz_check_error(status, &error);
    if (status != LOUPE_OK) {
        if (tokens != NULL || bos != -1) fuzz_fail("a result left after a failure");
        return 0;
    }
    if (bos >= 0 && added_vocabulary_find_id(tokens, bos) == NULL) fuzz_fail("a BOS id of no kept token");
    for (unsigned flags = 0; flags < 4; flags++) check_split(tokens, data, size, flags);
    added_vocabulary_free(tokens);
    return 0;
}
