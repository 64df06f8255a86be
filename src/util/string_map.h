/*
 * string_map.h - an open-addressing hash map from byte strings to integers.
 *
 * Keys are copied into the map's own storage; lookups take (pointer, length)
 * so keys need not be NUL-terminated and may hold any bytes.
 */
#ifndef LOUPE_UTIL_STRING_MAP_H
#define LOUPE_UTIL_STRING_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct string_map_slot {
    char *key;     /* owned copy, NUL-terminated for convenience; NULL = empty slot */
    size_t length; /* key length in bytes */
    uint64_t hash;
    int64_t value;
} string_map_slot;

typedef struct string_map {
    string_map_slot *slots; /* (capacity) */
    size_t capacity;        /* a power of two */
    size_t count;
} string_map;

/* 64-bit FNV-1a of the bytes; shared so other tables hash the same way. */
uint64_t string_hash(const void *bytes, size_t length);

/* FNV-1a continued from `hash` (string_hash's value of the bytes before):
 * string_hash(ab) == string_hash_extend(string_hash(a), b), so long inputs
 * can be hashed piece by piece. STRING_HASH_START is the hash of nothing. */
#define STRING_HASH_START 14695981039346656037ULL /* the FNV-1a 64-bit offset basis */
uint64_t string_hash_extend(uint64_t hash, const void *bytes, size_t length);

/* Returns 0 on success, -1 when out of memory. */
int string_map_init(string_map *map, size_t expected_count);
void string_map_free(string_map *map);

/* Inserts or replaces. Returns 1 if the key was new, 0 if replaced, -1 when
 * out of memory. */
int string_map_put(string_map *map, const char *key, size_t length, int64_t value);

/* Returns 1 and sets *value when found, 0 otherwise. */
int string_map_get(const string_map *map, const char *key, size_t length, int64_t *value);

#endif
