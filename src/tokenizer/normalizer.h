/*
 * normalizer.h - tokenizer.json's "normalizer": the rewriting of each plain
 * segment of the text before it is pre-tokenized.
 *
 * Supported, as Hugging Face tokenizers defines them: Sequence (flattened
 * into its steps), Prepend (the prefix is added to a non-empty segment),
 * Replace (every non-overlapping match of a String or Regex pattern, left
 * to right, becomes the content), NFC, NFD, NFKC, NFKD (utf8proc). Any other
 * type is LOUPE_ERROR_UNSUPPORTED naming it.
 */
#ifndef LOUPE_TOKENIZER_NORMALIZER_H
#define LOUPE_TOKENIZER_NORMALIZER_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "loupe.h"
#include "tokenizer/byte_buffer.h"
#include "tokenizer/split_regex.h"

typedef enum normalizer_kind {
    NORMALIZER_PREPEND,
    NORMALIZER_REPLACE,
    NORMALIZER_UNICODE, /* NFC, NFD, NFKC or NFKD: utf8proc options in unicode_options */
} normalizer_kind;

typedef struct normalizer_step {
    normalizer_kind kind;
    char *content;          /* Prepend's prefix, Replace's replacement (content_length bytes) */
    size_t content_length;
    split_regex pattern;    /* Replace's pattern */
    int unicode_options;    /* utf8proc_option_t of a Unicode normalization form */
} normalizer_step;

typedef struct normalizer {
    normalizer_step *steps; /* (count), applied in order */
    size_t count;
} normalizer;

/* Reads the "normalizer" value (NULL or JSON null: no normalizer) into *out;
 * path names the file in messages. On failure *out holds nothing to free. */
loupe_status normalizer_parse(const cJSON *json, const char *path, normalizer *out, loupe_error *error);
void normalizer_free(normalizer *chain);

/* Normalizes text (length bytes of valid UTF-8) into out (its previous
 * contents replaced); spare is scratch. With no steps out receives the text
 * as is. */
loupe_status normalizer_apply(const normalizer *chain, split_regex_scratch *scratch,
                              const char *text, size_t length, byte_buffer *out, byte_buffer *spare,
                              loupe_error *error);

#endif
