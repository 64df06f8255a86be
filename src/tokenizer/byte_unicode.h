/*
 * byte_unicode.h - GPT-2's reversible map between bytes and printable
 * characters.
 *
 * Byte-level BPE vocabularies store every token as a string of characters,
 * one character per byte: the 188 printable bytes ('!'..'~', 0xA1..0xAC,
 * 0xAE..0xFF) stand for themselves and the other 68 bytes, in increasing
 * order, stand for U+0100, U+0101, ... U+0143. So ' ' (0x20) is 'Ġ' (U+0120)
 * and '\n' (0x0A) is 'Ċ' (U+010A).
 */
#ifndef LOUPE_TOKENIZER_BYTE_UNICODE_H
#define LOUPE_TOKENIZER_BYTE_UNICODE_H

#include <stddef.h>
#include <stdint.h>

/* The longest UTF-8 encoding of a byte-level character (U+0100..U+0143). */
enum { BYTE_UNICODE_MAX_UTF8 = 2 };

/* The code point that stands for `byte`. */
int32_t byte_unicode_from_byte(uint8_t byte);

/* The byte that code point `codepoint` stands for, or -1 when it stands
 * for none. */
int byte_unicode_to_byte(int32_t codepoint);

/* Writes the UTF-8 encoding of byte's character to utf8 (capacity at least
 * BYTE_UNICODE_MAX_UTF8) and returns its length, 1 or 2. */
size_t byte_unicode_encode_utf8(uint8_t byte, char *utf8);

#endif
