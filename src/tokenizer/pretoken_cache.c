/*
 * pretoken_cache.c - see pretoken_cache.h.
 */
#include "tokenizer/pretoken_cache.h"

#include <stdlib.h>
#include <string.h>

#include "util/string_map.h"

_Static_assert(sizeof(pretoken_cache_slot) == 64, "a cache slot is one cache line");

int pretoken_cache_init(pretoken_cache *cache, size_t text_length) {
    size_t slots = 64;
    while (slots < PRETOKEN_CACHE_MAX_SLOTS && slots < text_length / 2) slots *= 2;
    /* calloc: every slot starts empty (piece_length 0). */
    cache->slots = calloc(slots, sizeof *cache->slots);
    cache->mask = slots - 1;
    return cache->slots ? 0 : -1;
}

void pretoken_cache_free(pretoken_cache *cache) {
    if (cache == NULL) return;
    free(cache->slots);
    cache->slots = NULL;
}

uint64_t pretoken_cache_hash(const char *piece, size_t length) { return string_hash(piece, length); }

static size_t slot_index(const pretoken_cache *cache, uint64_t hash) {
    /* FNV-1a's low bits are weak for short keys; fold the high half in. */
    return (size_t)((hash ^ (hash >> 32)) & cache->mask);
}

const int32_t *pretoken_cache_get(const pretoken_cache *cache, const char *piece, size_t length,
                                  uint64_t hash, size_t *count) {
    if (length > PRETOKEN_CACHE_MAX_PIECE_BYTES) return NULL;
    const pretoken_cache_slot *slot = &cache->slots[slot_index(cache, hash)];
    if (slot->hash != hash || slot->piece_length != length || memcmp(slot->piece, piece, length) != 0)
        return NULL;
    *count = slot->id_count;
    return slot->ids;
}

void pretoken_cache_put(pretoken_cache *cache, const char *piece, size_t length, uint64_t hash,
                        const int32_t *ids, size_t count) {
    if (length == 0 || length > PRETOKEN_CACHE_MAX_PIECE_BYTES || count > PRETOKEN_CACHE_MAX_IDS)
        return;
    pretoken_cache_slot *slot = &cache->slots[slot_index(cache, hash)];
    slot->hash = hash;
    slot->piece_length = (uint8_t)length;
    slot->id_count = (uint8_t)count;
    memcpy(slot->piece, piece, length);
    memcpy(slot->ids, ids, count * sizeof *ids);
}
