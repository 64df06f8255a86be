/*
 * fuzz_merges.c - merges.txt on any bytes, against the GPT-2 vocabulary:
 * bpe_merges_parse, then, when it accepts the rules, the input itself
 * encoded with them and checked to spell itself back.
 */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_target.h"
#include "util/file_map.h"

/* The GPT-2 vocabulary, read once. */
static const bpe_vocab *gpt2_vocab(void) {
    static bpe_vocab vocab;
    static int loaded;
    if (!loaded) {
        char *path = path_join(fuzz_tokenizer_directory(), "vocab.json");
        loupe_error error;
        if (path == NULL || bpe_vocab_load(path, &vocab, &error) != LOUPE_OK) {
            fprintf(stderr, "fuzz: cannot load the vocabulary: %s\n", path ? error.message : "no memory");
            abort();
        }
        free(path);
        loaded = 1;
    }
    return &vocab;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const bpe_vocab *vocab = gpt2_vocab();
    bpe_merges merges;
    loupe_error error;
    loupe_status status = bpe_merges_parse((const char *)data, size, "merges.txt", vocab, &merges, &error);
    fuzz_check_error(status, &error);
    if (status != LOUPE_OK) return 0;
    if (merges.count > size / 3 + 1) fuzz_fail("more rules than lines");
    fuzz_encode_round_trip(vocab, &merges, (const char *)data, size);
    bpe_merges_free(&merges);
    return 0;
}
