/*
 * replay_main.c - a main() that runs files through a fuzz target without
 * libFuzzer, so any C compiler (gcc under ASan + UBSan in CI) replays the
 * corpora and the regression inputs.
 *
 * usage: replay_<name> PATH...   (each PATH a file or a folder of files)
 * Exits 0 when every input ran; a bug aborts through a sanitizer or
 * fuzz_fail. A missing path is an error, an empty folder is not.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "targets/fuzz_target.h"

/* Reads the file at path into a new buffer (caller frees); NULL on failure. */
static uint8_t *read_file(const char *path, size_t *size_out) {
    FILE *file = fopen(path, "rb");
    if (file == NULL) return NULL;
    size_t capacity = 4096, size = 0;
    uint8_t *data = malloc(capacity);
    while (data != NULL) {
        size += fread(data + size, 1, capacity - size, file);
        if (size < capacity) break;
        uint8_t *grown = realloc(data, capacity * 2);
        if (grown == NULL) {
            free(data);
            data = NULL;
            break;
        }
        data = grown;
        capacity *= 2;
    }
    int failed = ferror(file);
    fclose(file);
    if (failed) {
        free(data);
        return NULL;
    }
    *size_out = size;
    return data;
}

/* Runs one file through the target; returns 0, or 1 when it cannot be read. */
static int replay_file(const char *path) {
    size_t size = 0;
    uint8_t *data = read_file(path, &size);
    if (data == NULL) {
        fprintf(stderr, "replay: %s: cannot read: %s\n", path, strerror(errno));
        return 1;
    }
    /* An exact-size copy, so ASan sees any read past the input's end. */
    uint8_t *exact = malloc(size ? size : 1);
    if (exact == NULL) {
        free(data);
        fprintf(stderr, "replay: %s: out of memory\n", path);
        return 1;
    }
    if (size > 0) memcpy(exact, data, size);
    free(data);
    LLVMFuzzerTestOneInput(exact, size);
    free(exact);
    return 0;
}

/* qsort order for file names, so replays run in a stable order. */
static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replays every regular file of a folder, in name order; returns the
 * number of files that could not be read (-1 if the folder cannot). */
static int replay_folder(const char *folder, int *n_run) {
    DIR *directory = opendir(folder);
    if (directory == NULL) return -1;
    char **names = NULL;
    size_t count = 0, capacity = 0;
    struct dirent *entry;
    while ((entry = readdir(directory)) != NULL) {
        if (entry->d_name[0] == '.') continue;
        if (count == capacity) {
            capacity = capacity ? capacity * 2 : 64;
            char **grown = realloc(names, capacity * sizeof *names);
            if (grown == NULL) break;
            names = grown;
        }
        size_t length = strlen(folder) + strlen(entry->d_name) + 2;
        names[count] = malloc(length);
        if (names[count] == NULL) break;
        snprintf(names[count], length, "%s/%s", folder, entry->d_name);
        count++;
    }
    closedir(directory);
    if (count > 0) qsort(names, count, sizeof *names, compare_names);
    int failures = 0;
    for (size_t i = 0; i < count; i++) {
        struct stat info;
        if (stat(names[i], &info) == 0 && S_ISREG(info.st_mode)) {
            failures += replay_file(names[i]);
            (*n_run)++;
        }
        free(names[i]);
    }
    free(names);
    return failures;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH...  (files or folders of inputs)\n", argv[0]);
        return 2;
    }
    int failures = 0, n_run = 0;
    for (int i = 1; i < argc; i++) {
        struct stat info;
        if (stat(argv[i], &info) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            failures++;
        } else if (S_ISDIR(info.st_mode)) {
            int result = replay_folder(argv[i], &n_run);
            if (result < 0) {
                fprintf(stderr, "replay: %s: cannot list the folder\n", argv[i]);
                failures++;
            } else {
                failures += result;
            }
        } else {
            failures += replay_file(argv[i]);
            n_run++;
        }
    }
    printf("replay: %d inputs run, %d unreadable\n", n_run, failures);
    return failures ? 1 : 0;
}
