/*
 * string_map.c - linear probing, grown at 50 % load.
 */
#include "util/string_map.h"

#include <stdlib.h>
#include <string.h>

uint64_t string_hash(const void *bytes, size_t length) {
    return string_hash_extend(STRING_HASH_START, bytes, length);
}

uint64_t string_hash_extend(uint64_t hash, const void *bytes, size_t length) {
    const unsigned char *p = bytes;
    for (size_t i = 0; i < length; i++) {
        hash ^= p[i];
        hash *= 1099511628211ULL;
    }
    return hash;
}

int string_map_init(string_map *map, size_t expected_count) {
    size_t capacity = 16;
    while (capacity < expected_count * 2) capacity *= 2;
    map->slots = calloc(capacity, sizeof *map->slots);
    map->capacity = map->slots ? capacity : 0;
    map->count = 0;
    return map->slots ? 0 : -1;
}

void string_map_free(string_map *map) {
    if (map == NULL || map->slots == NULL) return;
    for (size_t i = 0; i < map->capacity; i++) free(map->slots[i].key);
    free(map->slots);
    map->slots = NULL;
    map->capacity = map->count = 0;
}

static string_map_slot *find_slot(string_map_slot *slots, size_t capacity, const char *key,
                                  size_t length, uint64_t hash) {
    size_t i = (size_t)hash & (capacity - 1);
    for (;;) {
        string_map_slot *slot = &slots[i];
        if (slot->key == NULL) return slot;
        if (slot->hash == hash && slot->length == length && memcmp(slot->key, key, length) == 0)
            return slot;
        i = (i + 1) & (capacity - 1);
    }
}

static int grow(string_map *map) {
    size_t capacity = map->capacity * 2;
    string_map_slot *slots = calloc(capacity, sizeof *slots);
    if (slots == NULL) return -1;
    for (size_t i = 0; i < map->capacity; i++) {
        string_map_slot *old = &map->slots[i];
        if (old->key == NULL) continue;
        *find_slot(slots, capacity, old->key, old->length, old->hash) = *old;
    }
    free(map->slots);
    map->slots = slots;
    map->capacity = capacity;
    return 0;
}

int string_map_put(string_map *map, const char *key, size_t length, int64_t value) {
    if ((map->count + 1) * 2 > map->capacity && grow(map) != 0) return -1;
    uint64_t hash = string_hash(key, length);
    string_map_slot *slot = find_slot(map->slots, map->capacity, key, length, hash);
    if (slot->key != NULL) {
        slot->value = value;
        return 0;
    }
    char *copy = malloc(length + 1);
    if (copy == NULL) return -1;
    memcpy(copy, key, length);
    copy[length] = '\0';
    slot->key = copy;
    slot->length = length;
    slot->hash = hash;
    slot->value = value;
    map->count++;
    return 1;
}

int string_map_get(const string_map *map, const char *key, size_t length, int64_t *value) {
    if (map->capacity == 0) return 0;
    string_map_slot *slot = find_slot(map->slots, map->capacity, key, length, string_hash(key, length));
    if (slot->key == NULL) return 0;
    *value = slot->value;
    return 1;
}
