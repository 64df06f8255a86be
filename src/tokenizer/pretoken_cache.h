/*
 * pretoken_cache.h - a bounded memo of pieces already encoded.
 *
 * Text repeats its words, so most pieces are found here and skip the merge
 * loop. The cache is a fixed table of slots of one cache line each, indexed
 * by the piece's hash: a new piece simply replaces whatever held its slot,
 * so memory stays bounded whatever the text (4 MB at most), and a lookup
 * touches one line. Each encode call has its own, sized for its text: a
 * short text needs few slots and should not pay for clearing 4 MB. Pieces longer than PRETOKEN_CACHE_MAX_PIECE_BYTES
 * or with more than PRETOKEN_CACHE_MAX_IDS ids are not kept (they are rare
 * in prose and go through the merge loop each time).
 */
#ifndef LOUPE_TOKENIZER_PRETOKEN_CACHE_H
#define LOUPE_TOKENIZER_PRETOKEN_CACHE_H

#include <stddef.h>
#include <stdint.h>

enum {
    PRETOKEN_CACHE_MAX_SLOTS = 1 << 16,
    PRETOKEN_CACHE_MAX_PIECE_BYTES = 22,
    PRETOKEN_CACHE_MAX_IDS = 8,
};

typedef struct pretoken_cache_slot {
    uint64_t hash;        /* of the piece's bytes */
    uint8_t piece_length; /* 0 marks an empty slot */
    uint8_t id_count;
    char piece[PRETOKEN_CACHE_MAX_PIECE_BYTES];
    int32_t ids[PRETOKEN_CACHE_MAX_IDS];
} pretoken_cache_slot; /* 64 bytes */

typedef struct pretoken_cache {
    pretoken_cache_slot *slots; /* (mask + 1) */
    size_t mask;                /* the slot count minus 1; the count is a power of two */
} pretoken_cache;

/* Makes an empty cache for a text of text_length bytes: one slot per two
 * bytes, 64 to PRETOKEN_CACHE_MAX_SLOTS. Returns 0, or -1 when out of memory. */
int pretoken_cache_init(pretoken_cache *cache, size_t text_length);
void pretoken_cache_free(pretoken_cache *cache);

/* The hash both calls below take, of a piece's `length` bytes. */
uint64_t pretoken_cache_hash(const char *piece, size_t length);

/* Looks up a piece (length bytes, hash from pretoken_cache_hash): returns
 * its ids (count in *count), valid until the next pretoken_cache_put, or
 * NULL when absent. */
const int32_t *pretoken_cache_get(const pretoken_cache *cache, const char *piece, size_t length,
                                  uint64_t hash, size_t *count);

/* Remembers the ids (count) of a piece (length bytes, hash from
 * pretoken_cache_hash), replacing the slot's previous piece; pieces or id
 * lists too long for a slot are ignored. */
void pretoken_cache_put(pretoken_cache *cache, const char *piece, size_t length, uint64_t hash,
                        const int32_t *ids, size_t count);

#endif
