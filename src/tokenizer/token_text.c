/*
 * token_text.c - loupe_tokenizer_token_text: a token's text as loupe's JSON
 * documents write it, for bindings that hand token texts out as strings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/json.h"
#include "loupe.h"

size_t loupe_tokenizer_token_text(const loupe_tokenizer *tokenizer, int32_t id, char *buffer, size_t capacity) {
    if (buffer != NULL && capacity > 0) buffer[0] = '\0';
    size_t length = 0;
    const char *bytes = loupe_tokenizer_token_bytes(tokenizer, id, &length);
    if (bytes == NULL) return 0;
    char *text = NULL;
    size_t text_length = 0;
    FILE *out = open_memstream(&text, &text_length);
    if (out == NULL) return 0;
    json_write_text(out, bytes, length, false);
    if (fclose(out) != 0 || text == NULL) {
        free(text);
        return 0;
    }
    if (buffer != NULL && capacity > 0) {
        size_t copied = text_length < capacity - 1 ? text_length : capacity - 1;
        memcpy(buffer, text, copied);
        buffer[copied] = '\0';
    }
    free(text);
    return text_length;
}
