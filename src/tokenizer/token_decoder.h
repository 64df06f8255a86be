/*
 * token_decoder.h - tokenizer.json's "decoder", read as the bytes each token
 * stands for and what decoding does to the joined text.
 *
 * Supported, as Hugging Face tokenizers defines them:
 *   - ByteLevel: each byte-level character is its byte (others stay as
 *     their UTF-8);
 *   - Replace with a String pattern (Llama's "▁" -> " "), ByteFallback
 *     (a token "<0xNN>" is the byte NN), Fuse (joining, which loupe always
 *     does), Strip of leading spaces from the decoded text, Metaspace (its
 *     replacement becomes " ", and one leading space goes unless
 *     prepend_scheme is "never"), and Sequence of these.
 * Decoding gives the joined bytes (a byte-fallback run that is not valid
 * UTF-8 stays as its bytes: loupe does not substitute U+FFFD).
 */
#ifndef LOUPE_TOKENIZER_TOKEN_DECODER_H
#define LOUPE_TOKENIZER_TOKEN_DECODER_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "loupe.h"
#include "tokenizer/byte_buffer.h"

enum { TOKEN_DECODER_MAX_REPLACES = 4 };

typedef struct token_decoder {
    bool byte_level;
    bool byte_fallback;
    struct { char from[16], to[16]; } replaces[TOKEN_DECODER_MAX_REPLACES]; /* NUL-terminated */
    size_t replace_count;
    size_t strip_leading_spaces; /* removed from the start of a decoded text */
} token_decoder;

/* Reads the "decoder" value (NULL or JSON null: tokens are their strings). */
loupe_status token_decoder_parse(const cJSON *json, const char *path, token_decoder *out, loupe_error *error);

/* Appends the bytes of the token whose string is text (length bytes) to
 * out. Returns 1 when it was a byte-fallback token, 0 when not, -1 when out
 * of memory. */
int token_decoder_token_bytes(const token_decoder *decoder, const char *text, size_t length, byte_buffer *out);

#endif
