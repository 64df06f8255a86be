/*
 * pretokenizer.c - a hand-written scanner equivalent to GPT-2's pattern (see
 * pretokenizer.h). Scanning once over the bytes with a table for ASCII is
 * several times faster than a backtracking regex engine.
 */
#include "tokenizer/pretokenizer.h"

#include <utf8proc.h>

/* ------------------------------------------------------------------------
 * Classifying one character
 * ---------------------------------------------------------------------- */

/* The White_Space property (Unicode PropList.txt); stable since Unicode 6.3. */
static int is_white_space(int32_t codepoint) {
    if (codepoint >= 0x09 && codepoint <= 0x0D) return 1;
    if (codepoint >= 0x2000 && codepoint <= 0x200A) return 1;
    switch (codepoint) {
    case 0x20: case 0x85: case 0xA0: case 0x1680: case 0x2028:
    case 0x2029: case 0x202F: case 0x205F: case 0x3000:
        return 1;
    default:
        return 0;
    }
}

/* The class of a valid code point. */
static character_class classify_codepoint(int32_t codepoint) {
    if (is_white_space(codepoint)) return CLASS_SPACE;
    switch (utf8proc_category(codepoint)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
        return CLASS_LETTER;
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
        return CLASS_NUMBER;
    default:
        return CLASS_OTHER;
    }
}

/* The same classes for ASCII, without a table lookup in utf8proc: ASCII's
 * only letters are A-Z a-z and its only numbers 0-9. */
static character_class classify_ascii(uint8_t byte) {
    if ((uint8_t)((byte | 0x20) - 'a') < 26) return CLASS_LETTER;
    if ((uint8_t)(byte - '0') < 10) return CLASS_NUMBER;
    if (byte == ' ' || (byte >= 0x09 && byte <= 0x0D)) return CLASS_SPACE;
    return CLASS_OTHER;
}

character_class pretokenizer_classify_at(const uint8_t *text, size_t length, size_t at, size_t *size) {
    uint8_t byte = text[at];
    if (byte < 0x80) {
        *size = 1;
        return classify_ascii(byte);
    }
    size_t remaining = length - at;
    if (remaining > 4) remaining = 4;
    utf8proc_int32_t codepoint = 0;
    utf8proc_ssize_t used = utf8proc_iterate(text + at, (utf8proc_ssize_t)remaining, &codepoint);
    if (used <= 0) {
        *size = 1;
        return CLASS_OTHER;
    }
    *size = (size_t)used;
    return classify_codepoint(codepoint);
}

/* The end of the run of characters of class `wanted` that starts at `at`. */
static size_t run_end(const uint8_t *text, size_t length, size_t at, character_class wanted) {
    while (at < length) {
        size_t size;
        if (pretokenizer_classify_at(text, length, at, &size) != wanted) break;
        at += size;
    }
    return at;
}

/* ------------------------------------------------------------------------
 * The alternatives of the pattern, in order
 * ---------------------------------------------------------------------- */

/* 's 't 're 've 'm 'll 'd at `at`: the match length, or 0. */
static size_t contraction_length(const uint8_t *text, size_t length, size_t at) {
    if (text[at] != '\'' || at + 1 >= length) return 0;
    uint8_t first = text[at + 1];
    if (first == 's' || first == 't' || first == 'm' || first == 'd') return 2;
    if (at + 2 >= length) return 0;
    uint8_t second = text[at + 2];
    if ((first == 'r' && second == 'e') || (first == 'v' && second == 'e') ||
        (first == 'l' && second == 'l'))
        return 3;
    return 0;
}

void pretokenizer_init(pretokenizer *splitter, const char *text, size_t length) {
    splitter->text = (const uint8_t *)text;
    splitter->length = length;
    splitter->position = 0;
}

int pretokenizer_next(pretokenizer *splitter, size_t *start, size_t *piece_length) {
    const uint8_t *text = splitter->text;
    size_t length = splitter->length, at = splitter->position;
    if (at >= length) return 0;
    size_t end = at + contraction_length(text, length, at);

    if (end == at) {
        size_t size;
        character_class first = pretokenizer_classify_at(text, length, at, &size);
        if (first != CLASS_SPACE) {
            /* \p{L}+, \p{N}+ or [^\s\p{L}\p{N}]+ without the leading space. */
            end = run_end(text, length, at + size, first);
        } else {
            size_t after_space = at + 1;
            character_class next = CLASS_SPACE;
            if (text[at] == ' ' && after_space < length)
                next = pretokenizer_classify_at(text, length, after_space, &size);
            if (text[at] == ' ' && after_space < length && next != CLASS_SPACE) {
                /* " ?" took the space; the run of the next class follows. */
                end = run_end(text, length, after_space + size, next);
            } else {
                /* \s+(?!\S) backs off one character when the run is followed
                 * by a non-space; a run of one such character falls to \s+. */
                size_t last_start = at;
                end = at;
                size_t characters = 0;
                while (end < length && pretokenizer_classify_at(text, length, end, &size) == CLASS_SPACE) {
                    last_start = end;
                    end += size;
                    characters++;
                }
                if (end < length && characters >= 2) end = last_start;
            }
        }
    }
    *start = at;
    *piece_length = end - at;
    splitter->position = end;
    return 1;
}
