/*
 * pretoken_cache.h - a bounded memo of pieces already encoded.
 *
 * Text repeats its words, so most pieces are found here and skip the merge
 * loop. Only pieces of at most PRETOKEN_CACHE_MAX_PIECE_BYTES bytes are kept,
 * and the cache empties itself when it holds PRETOKEN_CACHE_MAX_ENTRIES, so
 * its memory stays below about 8 MB whatever the text.
 */
#ifndef LOUPE_TOKENIZER_PRETOKEN_CACHE_H
#define LOUPE_TOKENIZER_PRETOKEN_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "util/string_map.h"

enum {
    PRETOKEN_CACHE_MAX_PIECE_BYTES = 64,
    PRETOKEN_CACHE_MAX_ENTRIES = 16384,
};

typedef struct pretoken_cache {
    string_map entries; /* piece bytes -> (offset into ids) << 8 | id count */
    int32_t *ids;       /* (ids_capacity) the ids of every entry, back to back */
    size_t ids_count;
    size_t ids_capacity;
} pretoken_cache;

/* Returns 0, or -1 when out of memory. */
int pretoken_cache_init(pretoken_cache *cache);
void pretoken_cache_free(pretoken_cache *cache);

/* Looks up a piece (length bytes): returns its ids (count in *count), which
 * stay valid until the next pretoken_cache_put, or NULL when absent. */
const int32_t *pretoken_cache_get(const pretoken_cache *cache, const char *piece, size_t length,
                                  size_t *count);

/* Remembers the ids (count) of a piece (length bytes, at most
 * PRETOKEN_CACHE_MAX_PIECE_BYTES, so count is too); longer pieces are
 * ignored. Returns 0, or -1 when out of memory (the cache is then empty but
 * usable). */
int pretoken_cache_put(pretoken_cache *cache, const char *piece, size_t length, const int32_t *ids,
                       size_t count);

#endif
