/*
 * test_tokenizer_byte_unicode.c - GPT-2's byte <-> character map against
 * values worked out by hand from its definition (printable bytes stay, the
 * other 68 take U+0100.. in byte order).
 */
#include <string.h>

#include "test_support.h"
#include "tokenizer/byte_unicode.h"

int main(void) {
    /* Printable bytes stand for themselves. */
    CHECK(byte_unicode_from_byte('!') == 0x21);
    CHECK(byte_unicode_from_byte('~') == 0x7E);
    CHECK(byte_unicode_from_byte(0xA1) == 0xA1);
    CHECK(byte_unicode_from_byte(0xAC) == 0xAC);
    CHECK(byte_unicode_from_byte(0xAE) == 0xAE);
    CHECK(byte_unicode_from_byte(0xFF) == 0xFF);
    /* 0x00..0x20 are the first 33 others, 0x7F..0xA0 the next 34, 0xAD last. */
    CHECK(byte_unicode_from_byte(0x00) == 0x100);
    CHECK(byte_unicode_from_byte('\n') == 0x10A);
    CHECK(byte_unicode_from_byte(' ') == 0x120);
    CHECK(byte_unicode_from_byte(0x7F) == 0x121);
    CHECK(byte_unicode_from_byte(0x80) == 0x122);
    CHECK(byte_unicode_from_byte(0xA0) == 0x142);
    CHECK(byte_unicode_from_byte(0xAD) == 0x143);

    /* A bijection between the 256 bytes and 256 distinct characters. */
    int seen[0x144] = {0};
    int inverse_ok = 1, in_range = 1;
    for (int byte = 0; byte < 256; byte++) {
        int32_t codepoint = byte_unicode_from_byte((uint8_t)byte);
        in_range &= codepoint > 0x20 && codepoint < 0x144;
        if (codepoint >= 0 && codepoint < 0x144) seen[codepoint]++;
        inverse_ok &= byte_unicode_to_byte(codepoint) == byte;
    }
    CHECK(in_range);
    CHECK(inverse_ok);
    int distinct = 0;
    for (int c = 0; c < 0x144; c++) distinct += seen[c] == 1;
    CHECK(distinct == 256);

    /* Characters that stand for no byte. */
    CHECK(byte_unicode_to_byte(' ') == -1);
    CHECK(byte_unicode_to_byte(0x7F) == -1);
    CHECK(byte_unicode_to_byte(0xAD) == -1);
    CHECK(byte_unicode_to_byte(0x144) == -1);
    CHECK(byte_unicode_to_byte(0x20AC) == -1);
    CHECK(byte_unicode_to_byte(-5) == -1);

    /* UTF-8: ' ' is 'Ġ' (C4 A0), 'a' is itself, 0xE9 is 'é' (C3 A9). */
    char utf8[BYTE_UNICODE_MAX_UTF8];
    CHECK(byte_unicode_encode_utf8(' ', utf8) == 2 && memcmp(utf8, "\xc4\xa0", 2) == 0);
    CHECK(byte_unicode_encode_utf8('a', utf8) == 1 && utf8[0] == 'a');
    CHECK(byte_unicode_encode_utf8(0xE9, utf8) == 2 && memcmp(utf8, "\xc3\xa9", 2) == 0);
    return test_finish("test_tokenizer_byte_unicode");
}
