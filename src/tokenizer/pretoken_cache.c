/*
 * pretoken_cache.c - see pretoken_cache.h.
 */
#include "tokenizer/pretoken_cache.h"

#include <stdlib.h>
#include <string.h>

int pretoken_cache_init(pretoken_cache *cache) {
    memset(cache, 0, sizeof *cache);
    cache->ids_capacity = (size_t)PRETOKEN_CACHE_MAX_ENTRIES * 4;
    cache->ids = malloc(cache->ids_capacity * sizeof *cache->ids);
    if (cache->ids == NULL || string_map_init(&cache->entries, PRETOKEN_CACHE_MAX_ENTRIES) != 0) {
        pretoken_cache_free(cache);
        return -1;
    }
    return 0;
}

void pretoken_cache_free(pretoken_cache *cache) {
    if (cache == NULL) return;
    string_map_free(&cache->entries);
    free(cache->ids);
    memset(cache, 0, sizeof *cache);
}

const int32_t *pretoken_cache_get(const pretoken_cache *cache, const char *piece, size_t length,
                                  size_t *count) {
    int64_t value = 0;
    if (length > PRETOKEN_CACHE_MAX_PIECE_BYTES ||
        !string_map_get(&cache->entries, piece, length, &value))
        return NULL;
    *count = (size_t)(value & 0xFF);
    return cache->ids + (value >> 8);
}

/* Forgets every entry, keeping the memory of the id array. */
static int cache_clear(pretoken_cache *cache) {
    string_map_free(&cache->entries);
    cache->ids_count = 0;
    return string_map_init(&cache->entries, PRETOKEN_CACHE_MAX_ENTRIES);
}

int pretoken_cache_put(pretoken_cache *cache, const char *piece, size_t length, const int32_t *ids,
                       size_t count) {
    if (length > PRETOKEN_CACHE_MAX_PIECE_BYTES || count > length) return 0;
    if (cache->entries.slots == NULL && cache_clear(cache) != 0) return -1;
    if (cache->entries.count >= PRETOKEN_CACHE_MAX_ENTRIES) {
        if (cache_clear(cache) != 0) return -1;
    }
    if (cache->ids_count + count > cache->ids_capacity) {
        size_t capacity = cache->ids_capacity * 2;
        int32_t *grown = realloc(cache->ids, capacity * sizeof *grown);
        if (grown == NULL) return cache_clear(cache) == 0 ? 0 : -1;
        cache->ids = grown;
        cache->ids_capacity = capacity;
    }
    if (string_map_put(&cache->entries, piece, length,
                       (int64_t)cache->ids_count << 8 | (int64_t)count) < 0)
        return cache_clear(cache) == 0 ? 0 : -1;
    memcpy(cache->ids + cache->ids_count, ids, count * sizeof *ids);
    cache->ids_count += count;
    return 0;
}
