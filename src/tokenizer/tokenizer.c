/*
 * tokenizer.c - the public tokenizer calls: GPT-2 byte-level BPE built from
 * the pre-tokenizer, the vocabulary, the merge rules and the piece cache.
 *
 * Encoding writes to the tokenizer's piece cache and merge scratch (hence
 * the non-const handle): one tokenizer must not encode on two threads at
 * once. Decoding, token_bytes and render only read it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loupe.h"
#include "tokenizer/bpe_encode.h"
#include "tokenizer/bpe_merges.h"
#include "tokenizer/bpe_vocab.h"
#include "tokenizer/pretoken_cache.h"
#include "tokenizer/pretokenizer.h"
#include "util/error.h"
#include "util/file_map.h"

/* The longest text encode takes: its ids may need 4 bytes per byte, so this
 * bounds them at 1 GB (the CLI reads at most as much). */
#define TOKENIZER_MAX_TEXT_BYTES ((size_t)256 << 20)

struct loupe_tokenizer {
    bpe_vocab vocab;
    bpe_merges merges;
    bpe_workspace workspace; /* scratch of the merge loop */
    pretoken_cache cache;
};

/* ------------------------------------------------------------------------
 * Opening and closing
 * ---------------------------------------------------------------------- */

loupe_status loupe_tokenizer_open_files(const char *vocab_path, const char *merges_path,
                                        loupe_tokenizer **tokenizer_out, loupe_error *error) {
    if (tokenizer_out == NULL)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "tokenizer: no place for the result");
    *tokenizer_out = NULL;
    if (vocab_path == NULL || merges_path == NULL)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "tokenizer: missing vocab or merges path");
    loupe_tokenizer *tokenizer = calloc(1, sizeof *tokenizer);
    if (tokenizer == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "tokenizer: out of memory");
    loupe_status status = bpe_vocab_load(vocab_path, &tokenizer->vocab, error);
    if (status == LOUPE_OK) status = bpe_merges_load(merges_path, &tokenizer->vocab, &tokenizer->merges, error);
    if (status == LOUPE_OK && pretoken_cache_init(&tokenizer->cache) != 0)
        status = error_set(error, LOUPE_ERROR_MEMORY, "tokenizer: out of memory");
    if (status != LOUPE_OK) {
        loupe_tokenizer_close(tokenizer);
        return status;
    }
    error_clear(error);
    *tokenizer_out = tokenizer;
    return LOUPE_OK;
}

loupe_status loupe_tokenizer_open(const char *directory, loupe_tokenizer **tokenizer_out,
                                  loupe_error *error) {
    if (tokenizer_out != NULL) *tokenizer_out = NULL;
    if (directory == NULL)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "tokenizer: no directory given");
    loupe_status folder = directory_check(directory, error);
    if (folder != LOUPE_OK) return folder;
    char *vocab_path = path_join(directory, "vocab.json");
    char *merges_path = path_join(directory, "merges.txt");
    loupe_status status =
        vocab_path && merges_path
            ? loupe_tokenizer_open_files(vocab_path, merges_path, tokenizer_out, error)
            : error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", directory);
    free(vocab_path);
    free(merges_path);
    return status;
}

void loupe_tokenizer_close(loupe_tokenizer *tokenizer) {
    if (tokenizer == NULL) return;
    bpe_vocab_free(&tokenizer->vocab);
    bpe_merges_free(&tokenizer->merges);
    bpe_workspace_free(&tokenizer->workspace);
    pretoken_cache_free(&tokenizer->cache);
    free(tokenizer);
}

int loupe_tokenizer_vocab_size(const loupe_tokenizer *tokenizer) {
    return tokenizer ? (int)tokenizer->vocab.n_tokens : 0;
}

const char *loupe_tokenizer_token_bytes(const loupe_tokenizer *tokenizer, int32_t id,
                                        size_t *length) {
    size_t ignored = 0;
    if (length == NULL) length = &ignored;
    *length = 0;
    if (tokenizer == NULL || id < 0 || id >= tokenizer->vocab.n_tokens) return NULL;
    return bpe_vocab_token(&tokenizer->vocab, id, length);
}

/* ------------------------------------------------------------------------
 * Encoding
 * ---------------------------------------------------------------------- */

/* Makes room for `more` ids after *count in *ids (capacity *capacity). */
static int reserve_ids(int32_t **ids, size_t *capacity, size_t count, size_t more) {
    if (count + more <= *capacity) return 0;
    size_t wanted = *capacity * 2;
    if (wanted < count + more) wanted = count + more;
    if (wanted > SIZE_MAX / sizeof **ids) return -1;
    int32_t *grown = realloc(*ids, wanted * sizeof **ids);
    if (grown == NULL) return -1;
    *ids = grown;
    *capacity = wanted;
    return 0;
}

/* Appends the ids of one piece (length bytes) to ids (count so far). */
static loupe_status encode_piece(loupe_tokenizer *tokenizer, const char *piece, size_t length,
                                 int32_t **ids, size_t *capacity, size_t *count,
                                 loupe_error *error) {
    size_t cached_count = 0;
    uint64_t hash = length <= PRETOKEN_CACHE_MAX_PIECE_BYTES ? pretoken_cache_hash(piece, length) : 0;
    const int32_t *cached = pretoken_cache_get(&tokenizer->cache, piece, length, hash, &cached_count);
    if (cached == NULL && length > BPE_PIECE_MAX_BYTES)
        return error_set(error, LOUPE_ERROR_LIMIT,
                         "tokenizer: a single word of %zu bytes is longer than the limit of %zu",
                         length, BPE_PIECE_MAX_BYTES);
    if (reserve_ids(ids, capacity, *count, cached ? cached_count : length) != 0)
        return error_set(error, LOUPE_ERROR_MEMORY, "tokenizer: out of memory for %zu ids", *count);
    int32_t *out = *ids + *count;
    if (cached) {
        memcpy(out, cached, cached_count * sizeof *out);
        *count += cached_count;
        return LOUPE_OK;
    }
    long produced = bpe_encode_piece(&tokenizer->vocab, &tokenizer->merges, &tokenizer->workspace,
                                     (const uint8_t *)piece, length, out);
    if (produced < 0)
        return error_set(error, LOUPE_ERROR_MEMORY, "tokenizer: out of memory for a word of %zu bytes",
                         length);
    pretoken_cache_put(&tokenizer->cache, piece, length, hash, out, (size_t)produced);
    *count += (size_t)produced;
    return LOUPE_OK;
}

loupe_status loupe_tokenizer_encode(loupe_tokenizer *tokenizer, const char *text, size_t length,
                                    int32_t **ids_out, size_t *count_out, loupe_error *error) {
    if (ids_out) *ids_out = NULL;
    if (count_out) *count_out = 0;
    if (tokenizer == NULL || ids_out == NULL || count_out == NULL || (text == NULL && length > 0))
        return error_set(error, LOUPE_ERROR_ARGUMENT, "tokenizer_encode: missing argument");
    if (length > TOKENIZER_MAX_TEXT_BYTES)
        return error_set(error, LOUPE_ERROR_LIMIT,
                         "tokenizer: the text is %zu bytes, longer than the limit of %zu bytes", length,
                         TOKENIZER_MAX_TEXT_BYTES);
    /* English averages over four bytes a token; the buffer grows if not. */
    size_t capacity = length / 3 + 16, count = 0;
    int32_t *ids = malloc(capacity * sizeof *ids);
    if (ids == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "tokenizer: out of memory");
    pretokenizer splitter;
    pretokenizer_init(&splitter, text, length);
    size_t start = 0, piece_length = 0;
    while (pretokenizer_next(&splitter, &start, &piece_length)) {
        loupe_status status =
            encode_piece(tokenizer, text + start, piece_length, &ids, &capacity, &count, error);
        if (status != LOUPE_OK) {
            free(ids);
            return status;
        }
    }
    *ids_out = ids;
    *count_out = count;
    return LOUPE_OK;
}

/* ------------------------------------------------------------------------
 * Decoding
 * ---------------------------------------------------------------------- */

loupe_status loupe_tokenizer_decode(const loupe_tokenizer *tokenizer, const int32_t *ids,
                                    size_t count, char **text_out, size_t *length_out,
                                    loupe_error *error) {
    if (text_out) *text_out = NULL;
    if (length_out) *length_out = 0;
    if (tokenizer == NULL || text_out == NULL || length_out == NULL || (ids == NULL && count > 0))
        return error_set(error, LOUPE_ERROR_ARGUMENT, "tokenizer_decode: missing argument");
    const bpe_vocab *vocab = &tokenizer->vocab;
    size_t total = 0;
    for (size_t i = 0; i < count; i++) {
        if (ids[i] < 0 || ids[i] >= vocab->n_tokens)
            return error_set(error, LOUPE_ERROR_ARGUMENT,
                             "tokenizer_decode: id %ld at position %zu is outside 0..%d",
                             (long)ids[i], i, (int)vocab->n_tokens - 1);
        size_t token_length = 0;
        bpe_vocab_token(vocab, ids[i], &token_length);
        if (total > SIZE_MAX - 1 - token_length)
            return error_set(error, LOUPE_ERROR_LIMIT, "tokenizer_decode: text too long");
        total += token_length;
    }
    char *text = malloc(total + 1);
    if (text == NULL)
        return error_set(error, LOUPE_ERROR_MEMORY, "tokenizer_decode: out of memory for %zu bytes", total);
    size_t at = 0;
    for (size_t i = 0; i < count; i++) {
        size_t token_length = 0;
        const char *bytes = bpe_vocab_token(vocab, ids[i], &token_length);
        memcpy(text + at, bytes, token_length);
        at += token_length;
    }
    text[at] = '\0';
    *text_out = text;
    *length_out = at;
    return LOUPE_OK;
}
