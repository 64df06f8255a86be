/*
 * bpe_merges.h - the merge rules of a byte-level BPE (merges.txt):
 * (left id, right id) -> (rank, merged id).
 *
 * merges.txt holds one rule "left right" per line, both written as
 * byte-level strings; the rule on the n-th rule line has rank n - 1 (lower
 * ranks merge first). A first line starting with "#version" is a comment and
 * blank lines may end the file.
 */
#ifndef LOUPE_TOKENIZER_BPE_MERGES_H
#define LOUPE_TOKENIZER_BPE_MERGES_H

#include <stddef.h>
#include <stdint.h>

#include "loupe.h"
#include "tokenizer/bpe_vocab.h"

typedef struct bpe_merge_slot {
    uint64_t pair;     /* left id << 32 | right id */
    int32_t rank;      /* -1 marks an empty slot */
    int32_t merged_id;
} bpe_merge_slot;

typedef struct bpe_merges {
    bpe_merge_slot *slots; /* (capacity), open addressing with linear probing */
    size_t capacity;       /* a power of two, at least twice count */
    size_t count;
} bpe_merges;

/* Merge rules of real models number at most a few hundred thousand; more
 * lines than this is refused (LOUPE_ERROR_LIMIT) before the table is sized. */
enum { BPE_MERGES_MAX_LINES = 4194304 };

/* Reads merges.txt at `path` against vocab. Fails with LOUPE_ERROR_FORMAT
 * and a message naming the file and the line when a line is not two tokens
 * separated by one space, a part or the merged token is missing from the
 * vocabulary ("vocab/merges disagree"), or a rule repeats an earlier one.
 * On failure *merges holds nothing to free; on success release it with
 * bpe_merges_free. */
loupe_status bpe_merges_load(const char *path, const bpe_vocab *vocab, bpe_merges *merges,
                             loupe_error *error);
/* The same from `size` bytes of merges.txt text (text may be NULL when size
 * is 0); display_name names the file in messages. */
loupe_status bpe_merges_parse(const char *text, size_t size, const char *display_name,
                              const bpe_vocab *vocab, bpe_merges *merges, loupe_error *error);
void bpe_merges_free(bpe_merges *merges);

/* Sizes an empty table for expected_count rules (at most half full).
 * Returns 0, or -1 when out of memory. */
int bpe_merges_init(bpe_merges *merges, size_t expected_count);

/* Adds the rule (left, right) -> merged_id of rank; the table must have room
 * (at most expected_count rules in all). Returns the rank of an earlier rule
 * for the same pair, which the new one replaces when `replace` is set, or -1
 * when the pair is new. */
int32_t bpe_merges_add(bpe_merges *merges, int32_t left, int32_t right, int32_t rank,
                       int32_t merged_id, int replace);

static inline uint64_t bpe_merges_hash(uint64_t pair) {
    /* MurmurHash3's 64-bit finalizer: every bit of both ids reaches the low
     * bits the table indexes by (a bare multiply leaves them to the right
     * id alone, and pairs sharing it collide). */
    pair ^= pair >> 33;
    pair *= 0xFF51AFD7ED558CCDULL;
    pair ^= pair >> 33;
    pair *= 0xC4CEB9FE1A85EC53ULL;
    pair ^= pair >> 33;
    return pair;
}

/* Asks the CPU to start loading the table slot of (left, right), so that
 * several lookups' cache misses overlap instead of following one another. */
static inline void bpe_merges_prefetch(const bpe_merges *merges, int32_t left, int32_t right) {
    uint64_t pair = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    __builtin_prefetch(&merges->slots[(size_t)bpe_merges_hash(pair) & (merges->capacity - 1)]);
}

/* Looks up the rule for (left, right): returns 1 and sets *rank and
 * *merged_id, or returns 0 when there is none. */
static inline int bpe_merges_find(const bpe_merges *merges, int32_t left, int32_t right,
                                  int32_t *rank, int32_t *merged_id) {
    uint64_t pair = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    size_t mask = merges->capacity - 1;
    for (size_t i = (size_t)bpe_merges_hash(pair) & mask;; i = (i + 1) & mask) {
        const bpe_merge_slot *slot = &merges->slots[i];
        if (slot->rank < 0) return 0;
        if (slot->pair == pair) {
            *rank = slot->rank;
            *merged_id = slot->merged_id;
            return 1;
        }
    }
}

#endif
