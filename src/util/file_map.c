/*
 * file_map.c - mmap and whole-file reads with errors that name the file.
 */
#include "util/file_map.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"

loupe_status file_map_open(const char *path, file_map *map, loupe_error *error) {
    map->data = NULL;
    map->size = 0;
    map->is_mapped = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return error_set(error, LOUPE_ERROR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat info;
    if (fstat(fd, &info) != 0) {
        int saved = errno;
        close(fd);
        return error_set(error, LOUPE_ERROR_IO, "%s: cannot stat: %s", path, strerror(saved));
    }
    if (!S_ISREG(info.st_mode)) {
        close(fd);
        return error_set(error, LOUPE_ERROR_IO, "%s: not a regular file", path);
    }
    if (info.st_size == 0) {
        close(fd);
        return LOUPE_OK;
    }
    void *data = mmap(NULL, (size_t)info.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int saved = errno;
    close(fd);
    if (data == MAP_FAILED)
        return error_set(error, LOUPE_ERROR_IO, "%s: cannot map: %s", path, strerror(saved));
    map->data = data;
    map->size = (size_t)info.st_size;
    map->is_mapped = 1;
    return LOUPE_OK;
}

void file_map_close(file_map *map) {
    if (map == NULL) return;
    if (map->is_mapped && map->data) munmap((void *)map->data, map->size);
    map->data = NULL;
    map->size = 0;
    map->is_mapped = 0;
}

loupe_status file_read_all(const char *path, size_t max_bytes, char **data_out, size_t *size_out,
                           loupe_error *error) {
    *data_out = NULL;
    *size_out = 0;
    FILE *file = fopen(path, "rb");
    if (file == NULL)
        return error_set(error, LOUPE_ERROR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t capacity = 1 << 16, size = 0;
    char *data = malloc(capacity + 1);
    if (data == NULL) {
        fclose(file);
        return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", path);
    }
    for (;;) {
        if (size == capacity) {
            if (capacity >= max_bytes) {
                if (fgetc(file) == EOF) break; /* exactly at the limit is fine */
                free(data);
                fclose(file);
                return error_set(error, LOUPE_ERROR_LIMIT, "%s: larger than the limit of %zu bytes",
                                 path, max_bytes);
            }
            size_t grown = capacity * 2 > max_bytes ? max_bytes : capacity * 2;
            char *bigger = realloc(data, grown + 1);
            if (bigger == NULL) {
                free(data);
                fclose(file);
                return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", path);
            }
            data = bigger;
            capacity = grown;
        }
        size_t got = fread(data + size, 1, capacity - size, file);
        size += got;
        if (got == 0) break;
    }
    int failed = ferror(file);
    fclose(file);
    if (failed) {
        free(data);
        return error_set(error, LOUPE_ERROR_IO, "%s: read failed", path);
    }
    data[size] = '\0';
    *data_out = data;
    *size_out = size;
    return LOUPE_OK;
}

char *path_join(const char *directory, const char *name) {
    size_t a = strlen(directory), b = strlen(name);
    char *joined = malloc(a + b + 2);
    if (joined == NULL) return NULL;
    memcpy(joined, directory, a);
    size_t at = a;
    if (a > 0 && directory[a - 1] != '/') joined[at++] = '/';
    memcpy(joined + at, name, b + 1);
    return joined;
}

int path_is_file(const char *path) {
    struct stat info;
    return stat(path, &info) == 0 && S_ISREG(info.st_mode);
}

loupe_status directory_check(const char *directory, loupe_error *error) {
    struct stat info;
    if (stat(directory, &info) != 0)
        return errno == ENOENT || errno == ENOTDIR
                   ? error_set(error, LOUPE_ERROR_IO, "%s: no such folder", directory)
                   : error_set(error, LOUPE_ERROR_IO, "%s: cannot open: %s", directory, strerror(errno));
    if (!S_ISDIR(info.st_mode)) return error_set(error, LOUPE_ERROR_IO, "%s: not a folder", directory);
    return LOUPE_OK;
}
