/*
 * byte_unicode.c - see byte_unicode.h. The map is computed, not tabulated,
 * so it cannot drift from its definition.
 */
#include "tokenizer/byte_unicode.h"

/* 1 for the bytes GPT-2 keeps as themselves. */
static int byte_is_printable(uint8_t byte) {
    return (byte >= 0x21 && byte <= 0x7E) || (byte >= 0xA1 && byte <= 0xAC) || byte >= 0xAE;
}

/* How many non-printable bytes come before `byte`; that count is its offset
 * from U+0100. */
static int32_t non_printable_rank(uint8_t byte) {
    if (byte <= 0x20) return byte;                   /* 0x00..0x20: 33 bytes */
    if (byte <= 0xA0) return 33 + (byte - 0x7F);     /* 0x7F..0xA0: 34 bytes */
    return 67;                                       /* 0xAD */
}

int32_t byte_unicode_from_byte(uint8_t byte) {
    if (byte_is_printable(byte)) return byte;
    return 0x100 + non_printable_rank(byte);
}

int byte_unicode_to_byte(int32_t codepoint) {
    if (codepoint >= 0 && codepoint <= 0xFF) return byte_is_printable((uint8_t)codepoint) ? codepoint : -1;
    if (codepoint < 0x100 || codepoint > 0x143) return -1;
    int32_t rank = codepoint - 0x100;
    if (rank <= 32) return rank;
    if (rank <= 66) return 0x7F + (rank - 33);
    return 0xAD;
}

size_t byte_unicode_encode_utf8(uint8_t byte, char *utf8) {
    int32_t codepoint = byte_unicode_from_byte(byte);
    if (codepoint < 0x80) {
        utf8[0] = (char)codepoint;
        return 1;
    }
    utf8[0] = (char)(0xC0 | (codepoint >> 6));
    utf8[1] = (char)(0x80 | (codepoint & 0x3F));
    return 2;
}
