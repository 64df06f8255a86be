/*
 * pretoken_cache.c - see pretoken_cache.h.
 */
#include "tokenizer/pretoken_cache.h"

#include <stdlib.h>
#include <string.h>

#include "util/string_map.h"

_Static_assert(sizeof(pretoken_cache_slot) == 64, "a cache slot is one cache line");

int pretoken_cache_init(pretoken_cache *cache) {
    /* calloc: every slot starts empty (piece_length 0). */
    cache->slots = calloc(PRETOKEN_CACHE_SLOTS, sizeof *cache->slots);
    return cache->slots ? 0 : -1;
}

void pretoken_cache_free(pretoken_cache *cache) {
    if (cache == NULL) return;
    free(cache->slots);
    cache->slots = NULL;
}

uint64_t pretoken_cache_hash(const char *piece, size_t length) { return string_hash(piece, length); }

static size_t slot_index(uint64_t hash) {
    /* FNV-1a's low bits are weak for short keys; fold the high half in. */
    return (size_t)((hash ^ (hash >> 32)) & (PRETOKEN_CACHE_SLOTS - 1));
}

const int32_t *pretoken_cache_get(const pretoken_cache *cache, const char *piece, size_t length,
                                  uint64_t hash, size_t *count) {
    if (length > PRETOKEN_CACHE_MAX_PIECE_BYTES) return NULL;
    const pretoken_cache_slot *slot = &cache->slots[slot_index(hash)];
    if (slot->hash != hash || slot->piece_length != length || memcmp(slot->piece, piece, length) != 0)
        return NULL;
    *count = slot->id_count;
    return slot->ids;
}

void pretoken_cache_put(pretoken_cache *cache, const char *piece, size_t length, uint64_t hash,
                        const int32_t *ids, size_t count) {
    if (length == 0 || length > PRETOKEN_CACHE_MAX_PIECE_BYTES || count > PRETOKEN_CACHE_MAX_IDS)
        return;
    pretoken_cache_slot *slot = &cache->slots[slot_index(hash)];
    slot->hash = hash;
    slot->piece_length = (uint8_t)length;
    slot->id_count = (uint8_t)count;
    memcpy(slot->piece, piece, length);
    memcpy(slot->ids, ids, count * sizeof *ids);
}
