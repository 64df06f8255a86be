/*
 * file_replace.h - writing a file so that a failed or interrupted write
 * loses nothing: the bytes go to a temporary file beside the target, are
 * flushed to disk, and replace the target by a rename only once complete. A
 * reader, or a run killed half way, sees the old file or the new one, never
 * a part. Pictures, exported arrays, tuned lenses and training checkpoints
 * are all written this way.
 */
#ifndef LOUPE_UTIL_FILE_REPLACE_H
#define LOUPE_UTIL_FILE_REPLACE_H

#include <stddef.h>
#include <stdio.h>

#include "loupe.h"

/* Writes a file's bytes to out; returns LOUPE_OK or fills error. */
typedef loupe_status (*file_replace_body)(FILE *out, const void *context, loupe_error *error);

/* Writes path through body: into a temporary file beside it
 * (PATH.tmp-PID-N; the mode of the file it replaces, or 0666 less the
 * umask for a new one), flushed with fsync, renamed over path only when
 * complete, removed otherwise. A path that is not a regular file
 * (/dev/stdout, a FIFO), or one whose folder takes no new files, is written
 * in place (there a failure can leave it truncated). Errors: "PATH: cannot
 * create the file: REASON", "PATH: writing the file failed", or body's own. */
loupe_status file_replace(const char *path, file_replace_body body, const void *context, loupe_error *error);

/* file_replace with size bytes of data (size 0 allowed). */
loupe_status file_replace_bytes(const char *path, const void *data, size_t size, loupe_error *error);

#endif
