/*
 * safetensors_write.h - writing float32 tensors as one safetensors file,
 * atomically: the bytes go to PATH.tmp, are flushed to disk, then renamed
 * over PATH, so a reader (or a run killed half way) sees the old file or
 * the new one, never a part.
 */
#ifndef LOUPE_IO_SAFETENSORS_WRITE_H
#define LOUPE_IO_SAFETENSORS_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "loupe.h"

typedef struct safetensors_entry {
    const char *name;
    const float *data; /* (shape[0] x .. x shape[n_dims - 1]) */
    int n_dims;        /* 1 or 2 */
    int64_t shape[2];
} safetensors_entry;

/* Writes entries (n) in order as F32, with __metadata__ holding the string
 * pairs metadata (2 n_metadata: key, value, key, value, ...; may be NULL). */
loupe_status safetensors_write_f32(const char *path, const safetensors_entry *entries, size_t n,
                                   const char *const *metadata, size_t n_metadata, loupe_error *error);

/* Writes size bytes to path through path.tmp, flushed and renamed. */
loupe_status file_write_atomic(const char *path, const void *data, size_t size, loupe_error *error);

#endif
