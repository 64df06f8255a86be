/*
 * file_map.h - read-only views of whole files.
 */
#ifndef LOUPE_UTIL_FILE_MAP_H
#define LOUPE_UTIL_FILE_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "loupe.h"

typedef struct file_map {
    const uint8_t *data; /* (size) bytes; NULL when size is 0 */
    size_t size;
    int is_mapped;       /* 1: munmap on close; 0: nothing to release */
} file_map;

/* Maps `path` read-only. An empty file gives data NULL, size 0. */
loupe_status file_map_open(const char *path, file_map *map, loupe_error *error);
void file_map_close(file_map *map);

/* Reads a whole file into a new NUL-terminated buffer (caller frees).
 * Refuses files larger than max_bytes with LOUPE_ERROR_LIMIT. */
loupe_status file_read_all(const char *path, size_t max_bytes, char **data_out, size_t *size_out,
                           loupe_error *error);

/* Joins directory and name with a '/' into a new string (caller frees);
 * NULL when out of memory. */
char *path_join(const char *directory, const char *name);

/* 1 when path names an existing regular file. */
int path_is_file(const char *path);

/* LOUPE_OK when directory names an existing folder; else LOUPE_ERROR_IO
 * "DIR: no such folder" (or "DIR: not a folder", "DIR: cannot open: REASON"),
 * so that a mistyped --model is reported as itself and not as the first
 * file looked for in it. */
loupe_status directory_check(const char *directory, loupe_error *error);

#endif
