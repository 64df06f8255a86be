/*
 * corpus_counts.c - reading token frequencies as `loupe count` writes them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loupe.h"
#include "util/error.h"
#include "util/file_map.h"

enum { COUNTS_MAX_BYTES = 1 << 28 };

/* Parses a decimal whole number in [0, max] from s (n bytes, all digits). */
static bool parse_natural(const char *s, size_t n, int64_t max, int64_t *value) {
    if (n == 0 || n > 19) return false;
    int64_t result = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        result = result * 10 + (s[i] - '0');
    }
    if (result > max) return false;
    *value = result;
    return true;
}

loupe_status loupe_corpus_counts_parse(const char *name, const char *data, size_t length, int n_vocab,
                                       int64_t *counts, loupe_error *error) {
    error_clear(error);
    if (n_vocab < 1) return error_set(error, LOUPE_ERROR_ARGUMENT, "%s: vocabulary size %d", name, n_vocab);
    memset(counts, 0, (size_t)n_vocab * sizeof *counts);
    if (data == NULL) length = 0;
    long long line = 0;
    bool seen_rows = false;
    for (size_t at = 0; at < length;) {
        line++;
        const char *begin = data + at;
        const char *newline = memchr(begin, '\n', length - at);
        size_t n = newline ? (size_t)(newline - begin) : length - at;
        at += n + (newline ? 1 : 0);
        if (n > 0 && begin[n - 1] == '\r') n--;
        if (n == 0 || begin[0] == '#') continue;
        const char *first_tab = memchr(begin, '\t', n);
        if (first_tab == NULL)
            return error_set(error, LOUPE_ERROR_FORMAT, "%s:%lld: expected ID<TAB>TOKEN<TAB>COUNT", name, line);
        size_t id_length = (size_t)(first_tab - begin);
        if (!seen_rows && id_length == 2 && memcmp(begin, "id", 2) == 0) continue; /* the header */
        const char *last_tab = begin + n;
        while (last_tab[-1] != '\t') last_tab--; /* stops at first_tab + 1 at the latest */
        last_tab--;
        if (last_tab == first_tab)
            return error_set(error, LOUPE_ERROR_FORMAT, "%s:%lld: expected ID<TAB>TOKEN<TAB>COUNT", name, line);
        int64_t id, count;
        if (!parse_natural(begin, id_length, (int64_t)n_vocab - 1, &id))
            return error_set(error, LOUPE_ERROR_FORMAT, "%s:%lld: the id '%.*s' is not a whole number below %d",
                             name, line, (int)(id_length < 40 ? id_length : 40), begin, n_vocab);
        size_t count_length = (size_t)(begin + n - last_tab - 1);
        if (!parse_natural(last_tab + 1, count_length, INT64_MAX / 4, &count))
            return error_set(error, LOUPE_ERROR_FORMAT, "%s:%lld: the count '%.*s' is not a whole number", name,
                             line, (int)(count_length < 40 ? count_length : 40), last_tab + 1);
        if (counts[id] < 0) {
            memset(counts, 0, (size_t)n_vocab * sizeof *counts);
            return error_set(error, LOUPE_ERROR_FORMAT, "%s:%lld: id %lld appears twice", name, line,
                             (long long)id);
        }
        counts[id] = -1 - count; /* negative: seen (a count of 0 too) */
        seen_rows = true;
    }
    for (int id = 0; id < n_vocab; id++) counts[id] = counts[id] < 0 ? -1 - counts[id] : 0;
    return LOUPE_OK;
}

loupe_status loupe_corpus_counts_load(const char *path, int n_vocab, int64_t *counts, loupe_error *error) {
    char *data = NULL;
    size_t size = 0;
    loupe_status status = file_read_all(path, COUNTS_MAX_BYTES, &data, &size, error);
    if (status != LOUPE_OK) return status;
    status = loupe_corpus_counts_parse(path, data, size, n_vocab, counts, error);
    free(data);
    return status;
}
