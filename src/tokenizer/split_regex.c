/*
 * split_regex.c - see split_regex.h.
 */
#include "tokenizer/split_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdlib.h>
#include <string.h>

#include "tokenizer/byte_buffer.h"
#include "util/error.h"

/* The members of Unicode's White_Space property, as class items. */
static const char WHITE_SPACE_ITEMS[] = "\\t-\\r\\x{85}\\p{Z}";

/* Copies pattern into out with \s and \S rewritten (see split_regex.h).
 * Returns 0, or -1 when out of memory. */
static int rewrite_white_space(const char *pattern, size_t length, byte_buffer *out) {
    int in_class = 0;
    for (size_t at = 0; at < length; at++) {
        char c = pattern[at];
        if (c == '\\' && at + 1 < length) {
            char escaped = pattern[at + 1];
            at++;
            if (escaped == 's' || (escaped == 'S' && !in_class)) {
                int failed = 0;
                if (!in_class) failed |= byte_buffer_append(out, escaped == 's' ? "[" : "[^", escaped == 's' ? 1 : 2);
                failed |= byte_buffer_append(out, WHITE_SPACE_ITEMS, sizeof WHITE_SPACE_ITEMS - 1);
                if (!in_class) failed |= byte_buffer_append(out, "]", 1);
                if (failed) return -1;
                continue;
            }
            char pair[2] = {c, escaped};
            if (byte_buffer_append(out, pair, 2) != 0) return -1;
            continue;
        }
        if (c == '[' && !in_class) {
            in_class = 1;
            /* A ']' right after '[' or '[^' is a member, not the end. */
            if (byte_buffer_append(out, &c, 1) != 0) return -1;
            if (at + 1 < length && pattern[at + 1] == '^') {
                if (byte_buffer_append(out, "^", 1) != 0) return -1;
                at++;
            }
            if (at + 1 < length && pattern[at + 1] == ']') {
                if (byte_buffer_append(out, "]", 1) != 0) return -1;
                at++;
            }
            continue;
        }
        if (c == ']' && in_class) in_class = 0;
        if (byte_buffer_append(out, &c, 1) != 0) return -1;
    }
    return 0;
}

loupe_status split_regex_compile(const char *pattern, size_t length, bool literal, const char *where,
                                 split_regex *regex, loupe_error *error) {
    *regex = (split_regex){0};
    if (literal) {
        /* A plain string needs no engine: memchr finds it faster than a PCRE2 call per match. */
        regex->literal = malloc(length + 1);
        if (regex->literal == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", where);
        memcpy(regex->literal, pattern, length);
        regex->literal[length] = '\0';
        regex->literal_length = length;
        return LOUPE_OK;
    }
    byte_buffer rewritten = {0};
    if (rewrite_white_space(pattern, length, &rewritten) != 0) {
        byte_buffer_free(&rewritten);
        return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", where);
    }
    int code_error = 0;
    PCRE2_SIZE error_offset = 0;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)(rewritten.bytes ? rewritten.bytes : ""), rewritten.length,
                                     PCRE2_UTF | PCRE2_UCP, &code_error, &error_offset, NULL);
    byte_buffer_free(&rewritten);
    if (code == NULL) {
        PCRE2_UCHAR message[160];
        pcre2_get_error_message(code_error, message, sizeof message);
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: the pattern \"%.*s\" does not compile: %s",
                         where, (int)(length > 120 ? 120 : length), pattern, (const char *)message);
    }
    /* Without JIT (a CPU PCRE2 has no JIT for) the interpreter gives the same matches. */
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    regex->code = code;
    return LOUPE_OK;
}

void split_regex_free(split_regex *regex) {
    if (regex == NULL) return;
    pcre2_code_free(regex->code);
    free(regex->literal);
    *regex = (split_regex){0};
}

void split_regex_scratch_free(split_regex_scratch *scratch) {
    if (scratch == NULL) return;
    pcre2_match_data_free(scratch->match_data);
    scratch->match_data = NULL;
}

/* The first occurrence of needle (needle_length >= 1 bytes) in text, or NULL. */
static const char *find_literal(const char *text, size_t length, const char *needle, size_t needle_length) {
    const char *end = text + length;
    for (const char *at = text; (size_t)(end - at) >= needle_length; at++) {
        at = memchr(at, needle[0], (size_t)(end - at) - needle_length + 1);
        if (at == NULL) return NULL;
        if (memcmp(at, needle, needle_length) == 0) return at;
    }
    return NULL;
}

loupe_status split_regex_find(const split_regex *regex, split_regex_scratch *scratch, const char *text,
                              size_t length, size_t from, int *found, size_t *match_start,
                              size_t *match_end, loupe_error *error) {
    *found = 0;
    if (regex->code == NULL) {
        const char *hit = find_literal(text + from, from < length ? length - from : 0, regex->literal,
                                       regex->literal_length);
        if (hit != NULL) {
            *found = 1;
            *match_start = (size_t)(hit - text);
            *match_end = *match_start + regex->literal_length;
        }
        return LOUPE_OK;
    }
    if (scratch->match_data == NULL) {
        scratch->match_data = pcre2_match_data_create(1, NULL);
        if (scratch->match_data == NULL)
            return error_set(error, LOUPE_ERROR_MEMORY, "tokenizer: out of memory for a pattern match");
    }
    pcre2_match_data *match_data = scratch->match_data;
    if (text == NULL) text = "";
    /* The text was checked once: PCRE2 need not check it at every call. */
    uint32_t options = PCRE2_NO_UTF_CHECK;
    while (from <= length) {
        int result = pcre2_match(regex->code, (PCRE2_SPTR)text, length, from, options, match_data, NULL);
        /* JIT's default stack is small; the interpreter keeps its state on the heap. */
        if (result == PCRE2_ERROR_JIT_STACKLIMIT)
            result = pcre2_match(regex->code, (PCRE2_SPTR)text, length, from, options | PCRE2_NO_JIT,
                                 match_data, NULL);
        if (result == PCRE2_ERROR_NOMATCH) return LOUPE_OK;
        if (result < 0) {
            PCRE2_UCHAR message[160];
            pcre2_get_error_message(result, message, sizeof message);
            return error_set(error, result == PCRE2_ERROR_NOMEMORY ? LOUPE_ERROR_MEMORY : LOUPE_ERROR_LIMIT,
                             "tokenizer: pattern match failed at byte %zu: %s", from, (const char *)message);
        }
        PCRE2_SIZE *offsets = pcre2_get_ovector_pointer(match_data);
        if (offsets[1] > offsets[0]) {
            *found = 1;
            *match_start = offsets[0];
            *match_end = offsets[1];
            return LOUPE_OK;
        }
        /* An empty match splits nothing: look again one character on. */
        size_t next = offsets[0] + 1;
        while (next < length && ((unsigned char)text[next] & 0xC0) == 0x80) next++;
        from = next;
    }
    return LOUPE_OK;
}
