/*
 * tokenizer_render.c - loupe_tokenizer_render: one token made readable for
 * tables and terminals.
 *
 * Rules, applied piece by piece over the token's bytes:
 *   - a space as the first byte becomes U+2423 (open box); other spaces stay;
 *   - '\n', '\t', '\r' become the two characters \n, \t, \r;
 *   - every other control character becomes <0xNN> per byte: C0 bytes,
 *     DEL, and the C1 controls U+0080..U+009F (which some terminals obey);
 *   - a complete, valid UTF-8 character is copied as is;
 *   - any other byte (a fragment of a character split across tokens, or
 *     invalid UTF-8) becomes <0xNN>.
 * A byte-fallback token of a tokenizer.json model renders as its name
 * <0xNN> whatever its byte, and a SentencePiece "▁" is a space by then
 * (token_bytes), so it shows as U+2423 like GPT-2's.
 * An id out of range renders as the empty string.
 */
#include <stdio.h>
#include <string.h>

#include <utf8proc.h>

#include "loupe.h"
#include "tokenizer/tokenizer_internal.h"

/* Appends a piece to buffer (capacity bytes with the NUL) if it fits whole,
 * so a truncated rendering never ends inside a character or an escape.
 * Once a piece does not fit, nothing more is written (*full). Always counts
 * the piece in *needed. */
static void append_piece(char *buffer, size_t capacity, size_t *needed, int *full,
                         const char *piece, size_t length) {
    if (!*full && capacity > 0 && *needed + length < capacity) {
        memcpy(buffer + *needed, piece, length);
        buffer[*needed + length] = '\0';
    } else {
        *full = 1;
    }
    *needed += length;
}

size_t loupe_tokenizer_render(const loupe_tokenizer *tokenizer, int32_t id, char *buffer,
                              size_t capacity) {
    if (buffer != NULL && capacity > 0) buffer[0] = '\0';
    if (buffer == NULL) capacity = 0;
    size_t length = 0;
    const char *bytes = loupe_tokenizer_token_bytes(tokenizer, id, &length);
    if (bytes == NULL) return 0;
    size_t needed = 0;
    int full = 0;
    if (tokenizer_is_byte_fallback(tokenizer, id) && length == 1) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", (unsigned)(uint8_t)bytes[0]);
        append_piece(buffer, capacity, &needed, &full, name, 6);
        return needed;
    }
    size_t at = 0;
    while (at < length) {
        uint8_t byte = (uint8_t)bytes[at];
        char escape[8];
        if (byte == ' ' && at == 0) {
            append_piece(buffer, capacity, &needed, &full, "\xE2\x90\xA3", 3); /* U+2423 */
            at++;
            continue;
        }
        if (byte == '\n' || byte == '\t' || byte == '\r') {
            escape[0] = '\\';
            escape[1] = byte == '\n' ? 'n' : byte == '\t' ? 't' : 'r';
            append_piece(buffer, capacity, &needed, &full, escape, 2);
            at++;
            continue;
        }
        utf8proc_int32_t codepoint = -1;
        utf8proc_ssize_t used = utf8proc_iterate((const utf8proc_uint8_t *)bytes + at,
                                                 (utf8proc_ssize_t)(length - at), &codepoint);
        int is_control = codepoint < 0x20 || (codepoint >= 0x7F && codepoint <= 0x9F);
        if (used > 0 && !is_control) {
            append_piece(buffer, capacity, &needed, &full, bytes + at, (size_t)used);
            at += (size_t)used;
            continue;
        }
        /* A control character is escaped byte by byte, like invalid bytes. */
        size_t escaped = used > 0 ? (size_t)used : 1;
        for (size_t k = 0; k < escaped; k++) {
            snprintf(escape, sizeof escape, "<0x%02X>", (unsigned)(uint8_t)bytes[at + k]);
            append_piece(buffer, capacity, &needed, &full, escape, 6);
        }
        at += escaped;
    }
    return needed;
}
