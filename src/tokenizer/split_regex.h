/*
 * split_regex.h - the patterns of tokenizer.json's Split pre-tokenizer and
 * Replace normalizer, compiled with PCRE2 (UTF, UCP and JIT), and the
 * matches they find in a text.
 *
 * Hugging Face tokenizers compiles these patterns with Oniguruma. The two
 * engines agree on the patterns tokenizers ship except for \s: Oniguruma's
 * is the Unicode White_Space property, PCRE2's adds U+180E. So \s outside a
 * character class is rewritten to [\t-\r\x{85}\p{Z}] (White_Space exactly),
 * \S to its complement, and \s inside a class to the same members.
 *
 * A String pattern is not compiled: it is searched for as bytes.
 *
 * A compiled regex is immutable and may be shared by threads; each thread
 * matches with its own split_regex_scratch.
 */
#ifndef LOUPE_TOKENIZER_SPLIT_REGEX_H
#define LOUPE_TOKENIZER_SPLIT_REGEX_H

#include <stdbool.h>
#include <stddef.h>

#include "loupe.h"

typedef struct split_regex {
    void *code;     /* pcre2_code_8; NULL for a literal, which memmem finds */
    char *literal;  /* (literal_length) bytes of a String pattern */
    size_t literal_length;
} split_regex;

/* The per-call state of matching: PCRE2's match data, made on first use. */
typedef struct split_regex_scratch {
    void *match_data; /* pcre2_match_data_8, sized for any pattern (one pair) */
} split_regex_scratch;

/* Compiles pattern (length bytes): a regular expression, or when literal is
 * set a plain string to find. A pattern PCRE2 refuses is LOUPE_ERROR_FORMAT
 * naming `where` (the JSON field) and PCRE2's message with its offset. */
loupe_status split_regex_compile(const char *pattern, size_t length, bool literal, const char *where,
                                 split_regex *regex, loupe_error *error);
void split_regex_free(split_regex *regex);

void split_regex_scratch_free(split_regex_scratch *scratch);

/* Finds the first non-empty match in text[from .. length) (text valid
 * UTF-8): sets *found to 1 and *match_start, *match_end, or *found to 0 when
 * there is none. Fails when out of memory or when PCRE2 hits a match limit
 * on hostile input (LOUPE_ERROR_LIMIT). */
loupe_status split_regex_find(const split_regex *regex, split_regex_scratch *scratch, const char *text,
                              size_t length, size_t from, int *found, size_t *match_start,
                              size_t *match_end, loupe_error *error);

#endif
