/*
 * plot_file.c - writing a picture file so that a failed write loses nothing:
 * the bytes go to a temporary file beside the target, which replaces the
 * target only once it is complete.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loupe_internal.h"
#include "plot.h"

/* The permissions a file created by fopen would get: 0666 less the umask. */
static mode_t default_file_mode(void) {
    mode_t mask = umask(0);
    umask(mask);
    return (mode_t)0666 & ~mask;
}

/* Runs body on out and closes it; the first failure wins. */
static loupe_status write_and_close(FILE *out, const char *path, plot_file_body body, const void *context,
                                    loupe_error *error) {
    loupe_status status = body(out, context, error);
    if (fclose(out) != 0 && status == LOUPE_OK)
        status = error_set(error, LOUPE_ERROR_IO, "%s: writing the file failed", path);
    return status;
}

/* Writes straight into path (what fopen "wb" does: a failure leaves it truncated). */
static loupe_status write_in_place(const char *path, plot_file_body body, const void *context,
                                   loupe_error *error) {
    FILE *out = fopen(path, "wb");
    if (out == NULL) return error_set(error, LOUPE_ERROR_IO, "%s: cannot create the file: %s", path, strerror(errno));
    return write_and_close(out, path, body, context, error);
}

loupe_status plot_file_write(const char *path, plot_file_body body, const void *context, loupe_error *error) {
    struct stat info;
    bool exists = stat(path, &info) == 0;
    /* Devices, pipes and the like (/dev/stdout, a FIFO) cannot be replaced by a rename: write into them. */
    if (exists && !S_ISREG(info.st_mode)) return write_in_place(path, body, context, error);
    mode_t mode = exists ? info.st_mode & 07777 : default_file_mode();
    size_t length = strlen(path);
    char *temporary = malloc(length + sizeof(".tmp-XXXXXX"));
    if (temporary == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", path);
    memcpy(temporary, path, length);
    memcpy(temporary + length, ".tmp-XXXXXX", sizeof(".tmp-XXXXXX"));
    int descriptor = mkstemp(temporary);
    if (descriptor < 0) {
        /* a folder that takes no new files but holds a writable target */
        free(temporary);
        return write_in_place(path, body, context, error);
    }
    FILE *out = fchmod(descriptor, mode) == 0 ? fdopen(descriptor, "wb") : NULL;
    loupe_status status;
    if (out == NULL) {
        status = error_set(error, LOUPE_ERROR_IO, "%s: cannot create the file: %s", path, strerror(errno));
        close(descriptor);
    } else {
        status = write_and_close(out, path, body, context, error);
    }
    if (status == LOUPE_OK && rename(temporary, path) != 0)
        status = error_set(error, LOUPE_ERROR_IO, "%s: cannot create the file: %s", path, strerror(errno));
    if (status != LOUPE_OK) unlink(temporary);
    free(temporary);
    return status;
}
