/*
 * tokenizer_json_encode.c - encoding with a tokenizer.json tokenizer (the
 * pipeline of tokenizer_json.h), its scratch space kept per call.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/pretoken_cache.h"
#include "tokenizer/tokenizer_json.h"
#include "util/error.h"

/* The longest text encode takes (as the GPT-2 path). */
#define TOKENIZER_JSON_MAX_TEXT_BYTES ((size_t)256 << 20)

/* Everything one encode call writes. */
typedef struct encode_state {
    const tokenizer_json *tokenizer;
    bool match_special;
    size_t text_length;      /* of the whole text, which sizes the cache */
    int32_t *ids;            /* (capacity) */
    size_t count, capacity;
    byte_buffer normalized, spare, key;
    split_regex_scratch normalizer_scratch;
    pre_tokenizer_scratch pre_scratch;
    piece_list pieces;
    bpe_workspace workspace;
    pretoken_cache cache;    /* slots NULL until the first word */
} encode_state;

static void encode_state_free(encode_state *state) {
    free(state->ids);
    byte_buffer_free(&state->normalized);
    byte_buffer_free(&state->spare);
    byte_buffer_free(&state->key);
    split_regex_scratch_free(&state->normalizer_scratch);
    pre_tokenizer_scratch_free(&state->pre_scratch);
    piece_list_free(&state->pieces);
    bpe_workspace_free(&state->workspace);
    pretoken_cache_free(&state->cache);
}

static loupe_status out_of_memory(loupe_error *error) {
    return error_set(error, LOUPE_ERROR_MEMORY, "tokenizer: out of memory while encoding");
}

static int reserve_ids(encode_state *state, size_t more) {
    if (more <= state->capacity - state->count) return 0;
    if (more > SIZE_MAX / sizeof *state->ids / 4 - state->count) return -1;
    size_t wanted = state->capacity * 2;
    if (wanted < state->count + more) wanted = state->count + more;
    int32_t *grown = realloc(state->ids, wanted * sizeof *grown);
    if (grown == NULL) return -1;
    state->ids = grown;
    state->capacity = wanted;
    return 0;
}

static loupe_status append_ids(encode_state *state, const int32_t *ids, size_t count, loupe_error *error) {
    if (reserve_ids(state, count) != 0) return out_of_memory(error);
    memcpy(state->ids + state->count, ids, count * sizeof *ids);
    state->count += count;
    return LOUPE_OK;
}

/* ------------------------------------------------------------------------
 * Invalid UTF-8 becomes U+FFFD
 * ---------------------------------------------------------------------- */

/* The length of the valid UTF-8 sequence at text[at], or 0 when the byte
 * there begins none (RFC 3629: no overlong forms, surrogates or code points
 * above U+10FFFF). */
static size_t valid_sequence(const uint8_t *text, size_t length, size_t at) {
    uint8_t lead = text[at];
    if (lead < 0x80) return 1;
    size_t size = lead >= 0xC2 && lead <= 0xDF ? 2 : lead >= 0xE0 && lead <= 0xEF ? 3 : lead >= 0xF0 && lead <= 0xF4 ? 4 : 0;
    if (size == 0 || size > length - at) return 0;
    uint8_t second = text[at + 1];
    uint8_t low = 0x80, high = 0xBF;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
    if (second < low || second > high) return 0;
    for (size_t k = 2; k < size; k++)
        if ((text[at + k] & 0xC0) != 0x80) return 0;
    return size;
}

/* Sets *clean to text, or to a copy in buffer with every invalid byte made
 * U+FFFD. */
static loupe_status replace_invalid_utf8(const char *text, size_t length, byte_buffer *buffer, const char **clean,
                                         size_t *clean_length, loupe_error *error) {
    const uint8_t *bytes = (const uint8_t *)text;
    size_t at = 0;
    while (at < length) {
        size_t size = valid_sequence(bytes, length, at);
        if (size == 0) break;
        at += size;
    }
    *clean = text;
    *clean_length = length;
    if (at == length) return LOUPE_OK;
    buffer->length = 0;
    if (byte_buffer_append(buffer, text, at) != 0) return out_of_memory(error);
    while (at < length) {
        size_t size = valid_sequence(bytes, length, at);
        int failed = size ? byte_buffer_append(buffer, text + at, size) : byte_buffer_append(buffer, "\xEF\xBF\xBD", 3);
        if (failed) return out_of_memory(error);
        at += size ? size : 1;
    }
    *clean = buffer->bytes;
    *clean_length = buffer->length;
    return LOUPE_OK;
}

/* ------------------------------------------------------------------------
 * The pipeline
 * ---------------------------------------------------------------------- */

/* One word through the BPE model, by way of the cache. */
static loupe_status encode_word(encode_state *state, const char *word, size_t length, loupe_error *error) {
    const tokenizer_json *tokenizer = state->tokenizer;
    uint64_t hash = 0;
    bool cacheable = length <= PRETOKEN_CACHE_MAX_PIECE_BYTES;
    if (cacheable) {
        if (state->cache.slots == NULL && pretoken_cache_init(&state->cache, state->text_length) != 0)
            return out_of_memory(error);
        hash = pretoken_cache_hash(word, length);
        size_t cached_count = 0;
        const int32_t *cached = pretoken_cache_get(&state->cache, word, length, hash, &cached_count);
        if (cached != NULL) return append_ids(state, cached, cached_count, error);
    }
    if (length > BPE_PIECE_MAX_BYTES)
        return error_set(error, LOUPE_ERROR_LIMIT, "tokenizer: a single word of %zu bytes is longer than the limit of %zu",
                         length, BPE_PIECE_MAX_BYTES);
    if (reserve_ids(state, length) != 0) return out_of_memory(error);
    int32_t *out = state->ids + state->count;
    long produced = bpe_model_encode_word(&tokenizer->model, &state->workspace, &state->key, (const uint8_t *)word,
                                          length, tokenizer->pre_tokenizer.byte_level, out);
    if (produced < 0) return out_of_memory(error);
    if (cacheable) pretoken_cache_put(&state->cache, word, length, hash, out, (size_t)produced);
    state->count += (size_t)produced;
    return LOUPE_OK;
}

/* A normalized part with no added token in it: pre-tokenized, each word
 * through BPE. */
static loupe_status encode_plain(encode_state *state, const char *text, size_t length, bool at_text_start,
                                 loupe_error *error) {
    piece_list *pieces = &state->pieces;
    loupe_status status = pre_tokenizer_apply(&state->tokenizer->pre_tokenizer, &state->pre_scratch, text, length,
                                              at_text_start, pieces, error);
    const bpe_model *model = &state->tokenizer->model;
    for (size_t i = 0; i < pieces->count && status == LOUPE_OK; i++) {
        size_t start = i ? pieces->ends[i - 1] : 0;
        const uint8_t *word = (const uint8_t *)pieces->text.bytes + start;
        size_t word_length = pieces->ends[i] - start;
        if (state->tokenizer->pre_tokenizer.byte_level) {
            status = encode_word(state, (const char *)word, word_length, error);
            continue;
        }
        /* A SentencePiece-style word is a whole text: its chunks encode alone. */
        for (size_t at = 0; at < word_length && status == LOUPE_OK;) {
            size_t end = bpe_model_chunk_end(model, word, word_length, at);
            status = encode_word(state, (const char *)word + at, end - at, error);
            at = end;
        }
    }
    return status;
}

/* A raw segment with no unnormalized added token in it: normalized, split
 * around the normalized added tokens, the rest encoded. */
static loupe_status encode_segment(encode_state *state, const char *text, size_t length, bool at_text_start,
                                   loupe_error *error) {
    const tokenizer_json *tokenizer = state->tokenizer;
    loupe_status status = normalizer_apply(&tokenizer->normalizer, &state->normalizer_scratch, text, length,
                                           &state->normalized, &state->spare, error);
    if (status != LOUPE_OK) return status;
    const char *normalized = state->normalized.bytes;
    added_splitter splitter;
    added_segment part;
    unsigned flags = ADDED_SPLIT_NORMALIZED | (state->match_special ? 0 : ADDED_SPLIT_SKIP_SPECIAL);
    added_splitter_init(&splitter, tokenizer->added, normalized, state->normalized.length, flags);
    while (status == LOUPE_OK && added_splitter_next(&splitter, &part)) {
        status = part.id >= 0 ? append_ids(state, &part.id, 1, error)
                              : encode_plain(state, normalized + part.start, part.length,
                                             at_text_start && part.start == 0, error);
    }
    return status;
}

loupe_status tokenizer_json_encode(const tokenizer_json *tokenizer, const char *text, size_t length,
                                   bool match_special, bool add_special, int32_t **ids_out, size_t *count_out,
                                   loupe_error *error) {
    *ids_out = NULL;
    *count_out = 0;
    if (length > TOKENIZER_JSON_MAX_TEXT_BYTES)
        return error_set(error, LOUPE_ERROR_LIMIT, "tokenizer: the text is %zu bytes, longer than the limit of %zu bytes",
                         length, TOKENIZER_JSON_MAX_TEXT_BYTES);
    encode_state state = {.tokenizer = tokenizer, .match_special = match_special, .text_length = length};
    byte_buffer clean_copy = {0};
    const char *clean = NULL;
    size_t clean_length = 0;
    loupe_status status = replace_invalid_utf8(text, length, &clean_copy, &clean, &clean_length, error);
    if (status == LOUPE_OK && reserve_ids(&state, clean_length / 3 + 16) != 0) status = out_of_memory(error);
    const post_processor *post = &tokenizer->post_processor;
    if (status == LOUPE_OK && add_special) status = append_ids(&state, post->prefix, post->prefix_count, error);
    added_splitter splitter;
    added_segment segment;
    added_splitter_init(&splitter, tokenizer->added, clean, clean_length, match_special ? 0 : ADDED_SPLIT_SKIP_SPECIAL);
    while (status == LOUPE_OK && added_splitter_next(&splitter, &segment)) {
        status = segment.id >= 0 ? append_ids(&state, &segment.id, 1, error)
                                 : encode_segment(&state, clean + segment.start, segment.length, segment.start == 0,
                                                  error);
    }
    if (status == LOUPE_OK && add_special) status = append_ids(&state, post->suffix, post->suffix_count, error);
    byte_buffer_free(&clean_copy);
    if (status != LOUPE_OK) {
        encode_state_free(&state);
        return status;
    }
    *ids_out = state.ids;
    *count_out = state.count;
    state.ids = NULL;
    encode_state_free(&state);
    return LOUPE_OK;
}
