/*
 * fuzz_tokenizer_files.c - a hostile vocab.json and merges.txt together:
 * the input is "vocab.json NUL merges.txt NUL text" (a NUL never belongs in
 * either file). When both files are accepted, the text is encoded with them
 * and checked to spell itself back, so rules that a vocabulary allows but
 * no real tokenizer has still cannot break the merge loop.
 */
#include <string.h>

#include "fuzz_target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *vocab_text = (const char *)data;
    const char *first_nul = memchr(vocab_text, '\0', size);
    if (first_nul == NULL) return 0;
    size_t vocab_length = (size_t)(first_nul - vocab_text);
    const char *merges_text = first_nul + 1;
    size_t rest = size - vocab_length - 1;
    const char *second_nul = memchr(merges_text, '\0', rest);
    size_t merges_length = second_nul ? (size_t)(second_nul - merges_text) : rest;
    const char *text = second_nul ? second_nul + 1 : merges_text + rest;
    size_t text_length = second_nul ? rest - merges_length - 1 : 0;

    bpe_vocab vocab;
    bpe_merges merges;
    loupe_error error;
    loupe_status status = bpe_vocab_parse(vocab_text, vocab_length, "vocab.json", &vocab, &error);
    fuzz_check_error(status, &error);
    if (status != LOUPE_OK) return 0;
    status = bpe_merges_parse(merges_text, merges_length, "merges.txt", &vocab, &merges, &error);
    fuzz_check_error(status, &error);
    if (status == LOUPE_OK) {
        fuzz_encode_round_trip(&vocab, &merges, text, text_length);
        bpe_merges_free(&merges);
    }
    bpe_vocab_free(&vocab);
    return 0;
}
