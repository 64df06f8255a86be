/*
 * tokenizer_json.h - a Hugging Face "fast" tokenizer read from
 * tokenizer.json, encoding as the tokenizers library does (docs/TOKENIZERS.md):
 *
 *   text -> added tokens split out of the raw text (added_tokens.h)
 *        -> each plain segment normalized (normalizer.h)
 *        -> added tokens with normalized=true split out of it
 *        -> each plain part pre-tokenized into words (pre_tokenizer.h)
 *        -> each word through the BPE model (bpe_model.h)
 *        -> the post-processor's special tokens around it all (post_processor.h).
 *
 * Invalid UTF-8 (which the library, taking Rust strings, never sees) is
 * first replaced: every byte that does not begin a complete, valid UTF-8
 * sequence becomes U+FFFD, then the text is encoded as above.
 *
 * A tokenizer_json is immutable once loaded and may be shared by threads;
 * each encode call keeps its scratch space to itself.
 */
#ifndef LOUPE_TOKENIZER_TOKENIZER_JSON_H
#define LOUPE_TOKENIZER_TOKENIZER_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loupe.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe_merges.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/bpe_vocab.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/post_processor.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/token_decoder.h"

/* tokenizer.json of real models is up to a few tens of MB (Gemma 3: 33 MB). */
#define TOKENIZER_JSON_MAX_FILE_BYTES ((size_t)128 << 20)

enum {
    TOKEN_FLAG_BYTE_FALLBACK = 1, /* a "<0xNN>" token of a byte_fallback model */
    TOKEN_FLAG_ADDED = 2,         /* an added token: its bytes are its content */
};

typedef struct tokenizer_json {
    bpe_vocab vocab;        /* V = 1 + the largest id; token_bytes are the decoded bytes;
                               ids_by_text maps the model's vocabulary strings */
    bpe_merges merges;
    bpe_model model;
    added_vocabulary *added;
    normalizer normalizer;
    pre_tokenizer pre_tokenizer;
    post_processor post_processor;
    token_decoder decoder;
    uint8_t *token_flags;   /* (V) TOKEN_FLAG_* */
} tokenizer_json;

/* Reads tokenizer.json at path into a new tokenizer (*out; release with
 * tokenizer_json_free). A malformed file is LOUPE_ERROR_FORMAT, a model or
 * component loupe does not implement LOUPE_ERROR_UNSUPPORTED, each naming
 * the file and the field. */
loupe_status tokenizer_json_load(const char *path, tokenizer_json **out, loupe_error *error);
/* The same from `length` bytes of JSON text; display_name names it. */
loupe_status tokenizer_json_parse(const char *text, size_t length, const char *display_name,
                                  tokenizer_json **out, loupe_error *error);
void tokenizer_json_free(tokenizer_json *tokenizer);

/* Encodes text (length bytes, any bytes) into a new array *ids_out (caller
 * frees) of *count_out ids. match_special: special added tokens in the text
 * are matched (else their text is plain); add_special: the post-processor's
 * tokens are added. */
loupe_status tokenizer_json_encode(const tokenizer_json *tokenizer, const char *text, size_t length,
                                   bool match_special, bool add_special, int32_t **ids_out, size_t *count_out,
                                   loupe_error *error);

/* The number of leading spaces decoding removes from the joined bytes. */
static inline size_t tokenizer_json_strip_leading_spaces(const tokenizer_json *tokenizer) {
    return tokenizer->decoder.strip_leading_spaces;
}

#endif
