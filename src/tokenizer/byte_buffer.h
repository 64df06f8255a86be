/*
 * byte_buffer.h - a growable run of bytes, the scratch space that the
 * tokenizer.json pipeline (normalizers, pre-tokenizers) writes text into.
 */
#ifndef LOUPE_TOKENIZER_BYTE_BUFFER_H
#define LOUPE_TOKENIZER_BYTE_BUFFER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct byte_buffer {
    char *bytes;     /* (capacity) */
    size_t length;   /* bytes in use */
    size_t capacity;
} byte_buffer;

/* Makes room for `more` bytes after the ones in use. Returns 0, or -1 when
 * out of memory (the buffer is unchanged). */
static inline int byte_buffer_reserve(byte_buffer *buffer, size_t more) {
    if (more <= buffer->capacity - buffer->length) return 0;
    if (more > SIZE_MAX / 2 - buffer->length) return -1;
    size_t wanted = buffer->capacity * 2;
    if (wanted < buffer->length + more) wanted = buffer->length + more;
    if (wanted < 256) wanted = 256;
    char *grown = realloc(buffer->bytes, wanted);
    if (grown == NULL) return -1;
    buffer->bytes = grown;
    buffer->capacity = wanted;
    return 0;
}

/* Appends length bytes (bytes may be NULL when length is 0). Returns 0, or
 * -1 when out of memory. */
static inline int byte_buffer_append(byte_buffer *buffer, const void *bytes, size_t length) {
    if (length == 0) return 0;
    if (byte_buffer_reserve(buffer, length) != 0) return -1;
    memcpy(buffer->bytes + buffer->length, bytes, length);
    buffer->length += length;
    return 0;
}

static inline void byte_buffer_free(byte_buffer *buffer) {
    free(buffer->bytes);
    *buffer = (byte_buffer){0};
}

#endif
