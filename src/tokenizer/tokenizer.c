/*
 * tokenizer.c - the public tokenizer calls: GPT-2 byte-level BPE built from
 * the added tokens, the pre-tokenizer, the vocabulary, the merge rules and
 * the piece cache; or, when the folder has tokenizer.json, the Hugging Face
 * pipeline it describes (tokenizer_json.h).
 *
 * A tokenizer is immutable once open: each encode call keeps its piece
 * cache and merge scratch to itself, so threads may share one tokenizer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loupe.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe_encode.h"
#include "tokenizer/bpe_merges.h"
#include "tokenizer/bpe_vocab.h"
#include "tokenizer/hf_added_tokens.h"
#include "tokenizer/pretoken_cache.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer_internal.h"
#include "tokenizer/tokenizer_json.h"
#include "util/error.h"
#include "util/file_map.h"

/* The longest text encode takes: its ids may need 4 bytes per byte, so this
 * bounds them at 1 GB (the CLI reads at most as much). */
#define TOKENIZER_MAX_TEXT_BYTES ((size_t)256 << 20)

struct loupe_tokenizer {
    bpe_vocab vocab;
    bpe_merges merges;
    added_vocabulary *added; /* special and other added tokens, matched before BPE */
    int32_t bos_id;          /* -1 when the tokenizer has no BOS token */
    tokenizer_json *json;    /* set when read from tokenizer.json: then it alone is used */
};

/* ------------------------------------------------------------------------
 * Opening and closing
 * ---------------------------------------------------------------------- */

/* Opens vocab.json and merges.txt by path, and the added tokens of the
 * files in directory (NULL: GPT-2's defaults only). */
static loupe_status tokenizer_open(const char *vocab_path, const char *merges_path, const char *directory,
                                   loupe_tokenizer **tokenizer_out, loupe_error *error) {
    loupe_tokenizer *tokenizer = calloc(1, sizeof *tokenizer);
    if (tokenizer == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "tokenizer: out of memory");
    loupe_status status = bpe_vocab_load(vocab_path, &tokenizer->vocab, error);
    if (status == LOUPE_OK) status = bpe_merges_load(merges_path, &tokenizer->vocab, &tokenizer->merges, error);
    if (status == LOUPE_OK)
        status = hf_added_tokens_load(directory, &tokenizer->vocab, &tokenizer->added, &tokenizer->bos_id, error);
    if (status != LOUPE_OK) {
        loupe_tokenizer_close(tokenizer);
        return status;
    }
    error_clear(error);
    *tokenizer_out = tokenizer;
    return LOUPE_OK;
}

loupe_status loupe_tokenizer_open_files(const char *vocab_path, const char *merges_path,
                                        loupe_tokenizer **tokenizer_out, loupe_error *error) {
    if (tokenizer_out == NULL)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "tokenizer: no place for the result");
    *tokenizer_out = NULL;
    if (vocab_path == NULL || merges_path == NULL)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "tokenizer: missing vocab or merges path");
    return tokenizer_open(vocab_path, merges_path, NULL, tokenizer_out, error);
}

loupe_status loupe_tokenizer_open(const char *directory, loupe_tokenizer **tokenizer_out,
                                  loupe_error *error) {
    if (tokenizer_out == NULL)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "tokenizer: no place for the result");
    *tokenizer_out = NULL;
    if (directory == NULL)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "tokenizer: no directory given");
    loupe_status folder = directory_check(directory, error);
    if (folder != LOUPE_OK) return folder;
    /* transformers prefers tokenizer.json to the slow tokenizer's files. */
    char *json_path = path_join(directory, "tokenizer.json");
    if (json_path == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", directory);
    if (path_is_file(json_path)) {
        loupe_tokenizer *tokenizer = calloc(1, sizeof *tokenizer);
        loupe_status status = tokenizer ? tokenizer_json_load(json_path, &tokenizer->json, error)
                                        : error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", directory);
        free(json_path);
        if (status != LOUPE_OK) {
            free(tokenizer);
            return status;
        }
        const post_processor *post = &tokenizer->json->post_processor;
        tokenizer->bos_id = post->prefix_count > 0 ? post->prefix[0] : -1;
        error_clear(error);
        *tokenizer_out = tokenizer;
        return LOUPE_OK;
    }
    free(json_path);
    char *vocab_path = path_join(directory, "vocab.json");
    char *merges_path = path_join(directory, "merges.txt");
    loupe_status status =
        vocab_path && merges_path
            ? tokenizer_open(vocab_path, merges_path, directory, tokenizer_out, error)
            : error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", directory);
    free(vocab_path);
    free(merges_path);
    return status;
}

void loupe_tokenizer_close(loupe_tokenizer *tokenizer) {
    if (tokenizer == NULL) return;
    bpe_vocab_free(&tokenizer->vocab);
    bpe_merges_free(&tokenizer->merges);
    added_vocabulary_free(tokenizer->added);
    tokenizer_json_free(tokenizer->json);
    free(tokenizer);
}

int loupe_tokenizer_vocab_size(const loupe_tokenizer *tokenizer) {
    if (tokenizer == NULL) return 0;
    if (tokenizer->json) return (int)tokenizer->json->vocab.n_tokens;
    int32_t last_added = added_vocabulary_max_id(tokenizer->added);
    return last_added >= tokenizer->vocab.n_tokens ? (int)last_added + 1 : (int)tokenizer->vocab.n_tokens;
}

bool tokenizer_is_byte_fallback(const loupe_tokenizer *tokenizer, int32_t id) {
    return tokenizer != NULL && tokenizer->json != NULL && id >= 0 && id < tokenizer->json->vocab.n_tokens &&
           (tokenizer->json->token_flags[id] & TOKEN_FLAG_BYTE_FALLBACK);
}

int32_t loupe_tokenizer_bos_id(const loupe_tokenizer *tokenizer) {
    return tokenizer ? tokenizer->bos_id : -1;
}

const char *loupe_tokenizer_token_bytes(const loupe_tokenizer *tokenizer, int32_t id,
                                        size_t *length) {
    size_t ignored = 0;
    if (length == NULL) length = &ignored;
    *length = 0;
    if (tokenizer == NULL || id < 0) return NULL;
    if (tokenizer->json)
        return id < tokenizer->json->vocab.n_tokens ? bpe_vocab_token(&tokenizer->json->vocab, id, length) : NULL;
    if (id < tokenizer->vocab.n_tokens) return bpe_vocab_token(&tokenizer->vocab, id, length);
    /* an added token beyond vocab.json */
    const added_token *token = added_vocabulary_find_id(tokenizer->added, id);
    if (token == NULL) return NULL;
    *length = token->length;
    return token->content;
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

/* The scratch space of one encode call. */
typedef struct encode_scratch {
    bpe_workspace workspace; /* of the merge loop */
    pretoken_cache cache;
} encode_scratch;

/* Appends the ids of one piece (length bytes) to ids (count so far). */
static loupe_status encode_piece(const loupe_tokenizer *tokenizer, encode_scratch *scratch, const char *piece,
                                 size_t length,
                                 int32_t **ids, size_t *capacity, size_t *count,
                                 loupe_error *error) {
    size_t cached_count = 0;
    uint64_t hash = length <= PRETOKEN_CACHE_MAX_PIECE_BYTES ? pretoken_cache_hash(piece, length) : 0;
    const int32_t *cached = pretoken_cache_get(&scratch->cache, piece, length, hash, &cached_count);
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
    long produced = bpe_encode_piece(&tokenizer->vocab, &tokenizer->merges, &scratch->workspace,
                                     (const uint8_t *)piece, length, out);
    if (produced < 0)
        return error_set(error, LOUPE_ERROR_MEMORY, "tokenizer: out of memory for a word of %zu bytes",
                         length);
    pretoken_cache_put(&scratch->cache, piece, length, hash, out, (size_t)produced);
    *count += (size_t)produced;
    return LOUPE_OK;
}

/* Appends the ids of plain text (no added token in it) to ids: the
 * pre-tokenizer's pieces, each through BPE. */
static loupe_status encode_plain(const loupe_tokenizer *tokenizer, encode_scratch *scratch, const char *text, size_t length, int32_t **ids,
                                 size_t *capacity, size_t *count, loupe_error *error) {
    pretokenizer splitter;
    pretokenizer_init(&splitter, text, length);
    size_t start = 0, piece_length = 0;
    while (pretokenizer_next(&splitter, &start, &piece_length)) {
        loupe_status status = encode_piece(tokenizer, scratch, text + start, piece_length, ids, capacity, count, error);
        if (status != LOUPE_OK) return status;
    }
    return LOUPE_OK;
}

/* Appends one added token's id to ids. */
static loupe_status append_id(int32_t id, int32_t **ids, size_t *capacity, size_t *count, loupe_error *error) {
    if (reserve_ids(ids, capacity, *count, 1) != 0)
        return error_set(error, LOUPE_ERROR_MEMORY, "tokenizer: out of memory for %zu ids", *count);
    (*ids)[(*count)++] = id;
    return LOUPE_OK;
}

/* Appends the ids of text: the unnormalized added tokens split the raw text,
 * the normalized ones each plain part (GPT-2 has no normalizer, so the same
 * bytes), and what is left goes through BPE, as Hugging Face does. */
static loupe_status encode_text(const loupe_tokenizer *tokenizer, encode_scratch *scratch, const char *text, size_t length, unsigned flags,
                                int32_t **ids, size_t *capacity, size_t *count, loupe_error *error) {
    added_splitter raw, normalized;
    added_segment outer, inner;
    loupe_status status = LOUPE_OK;
    added_splitter_init(&raw, tokenizer->added, text, length, flags);
    while (status == LOUPE_OK && added_splitter_next(&raw, &outer)) {
        if (outer.id >= 0) {
            status = append_id(outer.id, ids, capacity, count, error);
            continue;
        }
        added_splitter_init(&normalized, tokenizer->added, text + outer.start, outer.length,
                            flags | ADDED_SPLIT_NORMALIZED);
        while (status == LOUPE_OK && added_splitter_next(&normalized, &inner)) {
            const char *part = text + outer.start + inner.start;
            status = inner.id >= 0 ? append_id(inner.id, ids, capacity, count, error)
                                   : encode_plain(tokenizer, scratch, part, inner.length, ids, capacity, count, error);
        }
    }
    return status;
}

loupe_encode_params loupe_encode_default_params(void) {
    return (loupe_encode_params){.match_special = true, .add_special = true};
}

loupe_status loupe_tokenizer_encode_with_params(const loupe_tokenizer *tokenizer, const char *text, size_t length,
                                                const loupe_encode_params *params, int32_t **ids_out,
                                                size_t *count_out, loupe_error *error) {
    if (ids_out) *ids_out = NULL;
    if (count_out) *count_out = 0;
    if (tokenizer == NULL || ids_out == NULL || count_out == NULL || (text == NULL && length > 0))
        return error_set(error, LOUPE_ERROR_ARGUMENT, "tokenizer_encode: missing argument");
    if (length > TOKENIZER_MAX_TEXT_BYTES)
        return error_set(error, LOUPE_ERROR_LIMIT,
                         "tokenizer: the text is %zu bytes, longer than the limit of %zu bytes", length,
                         TOKENIZER_MAX_TEXT_BYTES);
    loupe_encode_params defaults = loupe_encode_default_params();
    if (params == NULL) params = &defaults;
    if (tokenizer->json)
        return tokenizer_json_encode(tokenizer->json, text, length, params->match_special, params->add_special,
                                     ids_out, count_out, error);
    /* English averages over four bytes a token; the buffer grows if not. */
    size_t capacity = length / 3 + 16, count = 0;
    int32_t *ids = malloc(capacity * sizeof *ids);
    if (ids == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "tokenizer: out of memory");
    unsigned flags = params->match_special ? 0 : ADDED_SPLIT_SKIP_SPECIAL;
    encode_scratch scratch = {0};
    loupe_status status = pretoken_cache_init(&scratch.cache, length) == 0
                              ? encode_text(tokenizer, &scratch, text, length, flags, &ids, &capacity, &count, error)
                              : error_set(error, LOUPE_ERROR_MEMORY, "tokenizer: out of memory");
    bpe_workspace_free(&scratch.workspace);
    pretoken_cache_free(&scratch.cache);
    if (status != LOUPE_OK) {
        free(ids);
        return status;
    }
    *ids_out = ids;
    *count_out = count;
    return LOUPE_OK;
}

loupe_status loupe_tokenizer_encode(const loupe_tokenizer *tokenizer, const char *text, size_t length,
                                    int32_t **ids_out, size_t *count_out, loupe_error *error) {
    loupe_encode_params params = loupe_encode_default_params();
    params.match_special = false;
    return loupe_tokenizer_encode_with_params(tokenizer, text, length, &params, ids_out, count_out, error);
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
    size_t total = 0;
    for (size_t i = 0; i < count; i++) {
        size_t token_length = 0;
        if (loupe_tokenizer_token_bytes(tokenizer, ids[i], &token_length) == NULL)
            return error_set(error, LOUPE_ERROR_ARGUMENT,
                             "tokenizer_decode: id %ld at position %zu is not a token (the ids are 0..%d)",
                             (long)ids[i], i, loupe_tokenizer_vocab_size(tokenizer) - 1);
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
        const char *bytes = loupe_tokenizer_token_bytes(tokenizer, ids[i], &token_length);
        memcpy(text + at, bytes, token_length);
        at += token_length;
    }
    /* The decoder's Strip (Llama's leading space, added by the normalizer). */
    size_t strip = tokenizer->json ? tokenizer_json_strip_leading_spaces(tokenizer->json) : 0, skip = 0;
    while (skip < strip && skip < at && text[skip] == ' ') skip++;
    memmove(text, text + skip, at - skip);
    at -= skip;
    text[at] = '\0';
    *text_out = text;
    *length_out = at;
    return LOUPE_OK;
}
