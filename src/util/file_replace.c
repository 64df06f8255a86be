/*
 * file_replace.c - replacing a file only once its new bytes are complete and
 * on disk (file_replace.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"
#include "util/file_replace.h"

/* Creates a new file PATH.tmp-PID-N with the permissions fopen would give
 * (0666 less the umask, applied by open itself: reading the umask would
 * mean setting it, which races with other threads), its name in
 * *temporary (caller frees); -1 when none can be made. */
static int create_temporary(const char *path, char **temporary) {
    static _Atomic unsigned counter;
    size_t size = strlen(path) + 48;
    *temporary = malloc(size);
    if (*temporary == NULL) return -1;
    for (int attempt = 0; attempt < 100; attempt++) {
        snprintf(*temporary, size, "%s.tmp-%ld-%u", path, (long)getpid(), counter++);
        int descriptor = open(*temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (descriptor >= 0 || errno != EEXIST) return descriptor;
    }
    return -1;
}

/* Runs body on out and closes it, first flushing a regular file to disk
 * when sync; the first failure wins. */
static loupe_status write_and_close(FILE *out, const char *path, file_replace_body body, const void *context,
                                    bool sync, loupe_error *error) {
    loupe_status status = body(out, context, error);
    if (status == LOUPE_OK && (ferror(out) || (sync && (fflush(out) != 0 || fsync(fileno(out)) != 0))))
        status = error_set(error, LOUPE_ERROR_IO, "%s: writing the file failed", path);
    if (fclose(out) != 0 && status == LOUPE_OK)
        status = error_set(error, LOUPE_ERROR_IO, "%s: writing the file failed", path);
    return status;
}

/* Writes straight into path (what fopen "wb" does: a failure leaves it truncated). */
static loupe_status write_in_place(const char *path, file_replace_body body, const void *context,
                                   loupe_error *error) {
    FILE *out = fopen(path, "wb");
    if (out == NULL) return error_set(error, LOUPE_ERROR_IO, "%s: cannot create the file: %s", path, strerror(errno));
    return write_and_close(out, path, body, context, false, error);
}

loupe_status file_replace(const char *path, file_replace_body body, const void *context, loupe_error *error) {
    struct stat info;
    bool exists = stat(path, &info) == 0;
    /* Devices, pipes and the like (/dev/stdout, a FIFO) cannot be replaced by a rename: write into them. */
    if (exists && !S_ISREG(info.st_mode)) return write_in_place(path, body, context, error);
    char *temporary = NULL;
    int descriptor = create_temporary(path, &temporary);
    if (temporary == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", path);
    if (descriptor < 0) {
        /* a folder that takes no new files but holds a writable target */
        free(temporary);
        return write_in_place(path, body, context, error);
    }
    bool moded = !exists || fchmod(descriptor, info.st_mode & 07777) == 0;
    FILE *out = moded ? fdopen(descriptor, "wb") : NULL;
    loupe_status status;
    if (out == NULL) {
        status = error_set(error, LOUPE_ERROR_IO, "%s: cannot create the file: %s", path, strerror(errno));
        close(descriptor);
    } else {
        status = write_and_close(out, path, body, context, true, error);
    }
    if (status == LOUPE_OK && rename(temporary, path) != 0)
        status = error_set(error, LOUPE_ERROR_IO, "%s: cannot create the file: %s", path, strerror(errno));
    if (status != LOUPE_OK) unlink(temporary);
    free(temporary);
    return status;
}

/* The bytes file_replace_bytes writes. */
typedef struct byte_run {
    const void *data;
    size_t size;
} byte_run;

static loupe_status write_bytes(FILE *out, const void *context, loupe_error *error) {
    const byte_run *run = context;
    (void)error; /* write_and_close reports a failed write, naming the target */
    if (run->size > 0) fwrite(run->data, 1, run->size, out);
    return LOUPE_OK;
}

loupe_status file_replace_bytes(const char *path, const void *data, size_t size, loupe_error *error) {
    byte_run run = {data, size};
    return file_replace(path, write_bytes, &run, error);
}
