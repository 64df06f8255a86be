/*
 * post_processor.h - tokenizer.json's "post_processor" for a single text:
 * the special tokens it puts before and after the encoded text when special
 * tokens are added (Hugging Face's add_special_tokens=True, the default).
 *
 * Supported: TemplateProcessing (its "single" template: SpecialToken items
 * give the ids listed under "special_tokens", the Sequence item "A" is the
 * text), RobertaProcessing and BertProcessing ("cls" before, "sep" after),
 * ByteLevel (offsets only: no tokens) and Sequence of these.
 */
#ifndef LOUPE_TOKENIZER_POST_PROCESSOR_H
#define LOUPE_TOKENIZER_POST_PROCESSOR_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "loupe.h"

/* The most special tokens a template may put around the text. */
enum { POST_PROCESSOR_MAX_IDS = 64 };

typedef struct post_processor {
    int32_t prefix[POST_PROCESSOR_MAX_IDS]; /* (prefix_count) ids before the text */
    size_t prefix_count;
    int32_t suffix[POST_PROCESSOR_MAX_IDS]; /* (suffix_count) ids after it */
    size_t suffix_count;
} post_processor;

/* Reads the "post_processor" value (NULL or JSON null: nothing added);
 * every id must be below vocab_size. */
loupe_status post_processor_parse(const cJSON *json, const char *path, int32_t vocab_size,
                                  post_processor *out, loupe_error *error);

#endif
