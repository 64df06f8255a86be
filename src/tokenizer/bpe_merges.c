/*
 * bpe_merges.c - reading and checking merges.txt.
 */
#include "tokenizer/bpe_merges.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/file_map.h"

int bpe_merges_init(bpe_merges *merges, size_t expected_count) {
    size_t capacity = 16;
    while (capacity / 2 < expected_count) {
        if (capacity > SIZE_MAX / 4 / sizeof *merges->slots) return -1;
        capacity *= 2;
    }
    merges->slots = malloc(capacity * sizeof *merges->slots);
    if (merges->slots == NULL) return -1;
    for (size_t i = 0; i < capacity; i++) merges->slots[i].rank = -1;
    merges->capacity = capacity;
    merges->count = 0;
    return 0;
}

int32_t bpe_merges_add(bpe_merges *merges, int32_t left, int32_t right, int32_t rank,
                       int32_t merged_id, int replace) {
    uint64_t pair = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    size_t mask = merges->capacity - 1;
    size_t i = (size_t)bpe_merges_hash(pair) & mask;
    while (merges->slots[i].rank >= 0) {
        if (merges->slots[i].pair == pair) {
            int32_t earlier = merges->slots[i].rank;
            if (replace) merges->slots[i] = (bpe_merge_slot){.pair = pair, .rank = rank, .merged_id = merged_id};
            return earlier;
        }
        i = (i + 1) & mask;
    }
    merges->slots[i] = (bpe_merge_slot){.pair = pair, .rank = rank, .merged_id = merged_id};
    merges->count++;
    return -1;
}

/* Parses one rule line (length bytes, no newline) at line_number. */
static loupe_status add_rule(const char *path, size_t line_number, const char *line, size_t length,
                             const bpe_vocab *vocab, bpe_merges *merges, char *joined,
                             loupe_error *error) {
    const char *space = memchr(line, ' ', length);
    size_t left_length = space ? (size_t)(space - line) : 0;
    size_t right_length = space ? length - left_length - 1 : 0;
    if (space == NULL || left_length == 0 || right_length == 0 ||
        memchr(space + 1, ' ', right_length) != NULL)
        return error_set(error, LOUPE_ERROR_FORMAT,
                         "%s:%zu: expected two tokens separated by one space, found \"%.*s\"", path,
                         line_number, (int)(length > 80 ? 80 : length), line);
    const char *right = space + 1;
    int32_t left_id = bpe_vocab_find(vocab, line, left_length);
    int32_t right_id = bpe_vocab_find(vocab, right, right_length);
    memcpy(joined, line, left_length);
    memcpy(joined + left_length, right, right_length);
    int32_t merged_id = bpe_vocab_find(vocab, joined, left_length + right_length);
    const char *missing = left_id < 0 ? "left part" : right_id < 0 ? "right part" : "merged token";
    if (left_id < 0 || right_id < 0 || merged_id < 0)
        return error_set(error, LOUPE_ERROR_FORMAT,
                         "%s:%zu: vocab/merges disagree: the %s of \"%.*s\" is not in vocab.json",
                         path, line_number, missing, (int)(length > 80 ? 80 : length), line);
    if (merges->count >= (size_t)INT32_MAX)
        return error_set(error, LOUPE_ERROR_LIMIT, "%s:%zu: too many merges", path, line_number);
    int32_t earlier = bpe_merges_add(merges, left_id, right_id, (int32_t)merges->count, merged_id, 0);
    if (earlier >= 0)
        return error_set(error, LOUPE_ERROR_FORMAT, "%s:%zu: repeats the merge \"%.*s\" of rank %d",
                         path, line_number, (int)(length > 80 ? 80 : length), line, (int)earlier);
    return LOUPE_OK;
}

loupe_status bpe_merges_parse(const char *text, size_t size, const char *display_name,
                              const bpe_vocab *vocab, bpe_merges *merges, loupe_error *error) {
    memset(merges, 0, sizeof *merges);
    const char *path = display_name;
    /* Each rule takes one line, which bounds the table. */
    size_t n_lines = 1;
    for (size_t scan = 0; scan < size; scan++) {
        const char *newline = memchr(text + scan, '\n', size - scan);
        if (newline == NULL) break;
        scan = (size_t)(newline - text);
        n_lines++;
    }
    if (n_lines > BPE_MERGES_MAX_LINES + 2) /* a #version line and a final newline */
        return error_set(error, LOUPE_ERROR_LIMIT, "%s: %zu lines, more than the limit of %d merges",
                         path, n_lines, BPE_MERGES_MAX_LINES);
    char *joined = malloc(size + 1);
    if (joined == NULL || bpe_merges_init(merges, n_lines) != 0) {
        free(joined);
        return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", path);
    }
    loupe_status status = LOUPE_OK;
    size_t at = 0, line_number = 0, blank_line = 0;
    while (at < size && status == LOUPE_OK) {
        const char *line = text + at;
        const char *newline = memchr(line, '\n', size - at);
        size_t length = newline ? (size_t)(newline - line) : size - at;
        at += length + (newline != NULL);
        line_number++;
        if (length > 0 && line[length - 1] == '\r') length--;
        if (line_number == 1 && length >= 8 && memcmp(line, "#version", 8) == 0) continue;
        if (length == 0) {
            if (blank_line == 0) blank_line = line_number;
            continue;
        }
        if (blank_line != 0)
            status = error_set(error, LOUPE_ERROR_FORMAT,
                               "%s:%zu: blank line inside the merges (only trailing blank lines "
                               "are allowed)", path, blank_line);
        else
            status = add_rule(path, line_number, line, length, vocab, merges, joined, error);
    }
    free(joined);
    if (status != LOUPE_OK) bpe_merges_free(merges);
    return status;
}

loupe_status bpe_merges_load(const char *path, const bpe_vocab *vocab, bpe_merges *merges,
                             loupe_error *error) {
    memset(merges, 0, sizeof *merges);
    file_map map;
    loupe_status status = file_map_open(path, &map, error);
    if (status != LOUPE_OK) return status;
    status = bpe_merges_parse((const char *)map.data, map.size, path, vocab, merges, error);
    file_map_close(&map);
    return status;
}

void bpe_merges_free(bpe_merges *merges) {
    if (merges == NULL) return;
    free(merges->slots);
    memset(merges, 0, sizeof *merges);
}
