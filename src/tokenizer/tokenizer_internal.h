/*
 * tokenizer_internal.h - what the tokenizer's other files ask of a
 * loupe_tokenizer beyond loupe.h.
 */
#ifndef LOUPE_TOKENIZER_TOKENIZER_INTERNAL_H
#define LOUPE_TOKENIZER_TOKENIZER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "loupe.h"

/* True when id is a byte-fallback token ("<0xNN>") of a tokenizer.json
 * model with byte_fallback; false for any other id or tokenizer. */
bool tokenizer_is_byte_fallback(const loupe_tokenizer *tokenizer, int32_t id);

#endif
