/*
 * bpe_vocab.h - a byte-level BPE vocabulary (vocab.json): token id <-> the
 * token's bytes.
 *
 * vocab.json maps each token, written as a byte-level string (see
 * byte_unicode.h), to its id. The ids must be exactly 0 .. V-1, each once.
 */
#ifndef LOUPE_TOKENIZER_BPE_VOCAB_H
#define LOUPE_TOKENIZER_BPE_VOCAB_H

#include <stddef.h>
#include <stdint.h>

#include "loupe.h"
#include "util/string_map.h"

typedef struct bpe_vocab {
    int32_t n_tokens;       /* V */
    char *token_bytes;      /* the raw bytes of every token, back to back */
    size_t *token_offsets;  /* (V + 1): token i is token_bytes[offsets[i] .. offsets[i + 1]) */
    string_map ids_by_text; /* byte-level string (as in vocab.json) -> id */
    int32_t byte_ids[256];  /* the id of the one-byte token of each byte */
} bpe_vocab;

/* Limits checked before the vocabulary is allocated. vocab.json of real
 * models is a few MB with at most a few hundred thousand tokens; the token
 * limit matches config.json's vocab_size limit (HF_CONFIG_MAX_VOCAB). */
#define BPE_VOCAB_MAX_FILE_BYTES ((size_t)64 << 20)
enum { BPE_VOCAB_MAX_TOKENS = 4194304 };

/* Reads vocab.json at `path` (at most BPE_VOCAB_MAX_FILE_BYTES) into *vocab. Fails with LOUPE_ERROR_FORMAT and a
 * message naming the file and the key when the file is not a JSON object of
 * whole-number ids, an id is negative or repeated, the ids are not dense
 * 0 .. V-1, a token is empty or holds a character that stands for no byte,
 * or some byte has no one-byte token; more than BPE_VOCAB_MAX_TOKENS tokens
 * is LOUPE_ERROR_LIMIT. On failure *vocab holds nothing to
 * free; on success release it with bpe_vocab_free. */
loupe_status bpe_vocab_load(const char *path, bpe_vocab *vocab, loupe_error *error);
/* The same from `length` bytes of vocab.json text (need not be
 * NUL-terminated); display_name names the file in messages. */
loupe_status bpe_vocab_parse(const char *text, size_t length, const char *display_name,
                             bpe_vocab *vocab, loupe_error *error);
void bpe_vocab_free(bpe_vocab *vocab);

/* The raw bytes of token id (0 <= id < V); *length receives their count. */
static inline const char *bpe_vocab_token(const bpe_vocab *vocab, int32_t id, size_t *length) {
    *length = vocab->token_offsets[id + 1] - vocab->token_offsets[id];
    return vocab->token_bytes + vocab->token_offsets[id];
}

/* The id of the token whose byte-level string is text (length bytes), or -1. */
int32_t bpe_vocab_find(const bpe_vocab *vocab, const char *text, size_t length);

#endif
