/*
 * safetensors_write.h - writing F32 and I32 tensors (and the integer buffers
 * a model folder may hold) of up to 4 dimensions (the lens's --export, tuned
 * lenses, training checkpoints, fine-tuned models) to an open
 * stream as one safetensors file (file_replace.h puts the stream in place
 * atomically): the 8-byte
 * little-endian header length, the JSON header (an optional __metadata__
 * map of strings, then every tensor's dtype, shape and data_offsets, in the
 * order given, contiguous from 0), padded with spaces to a multiple of 8
 * bytes, then the data. safetensors_open reads what this writes.
 */
#ifndef LOUPE_IO_SAFETENSORS_WRITE_H
#define LOUPE_IO_SAFETENSORS_WRITE_H

#include <stdint.h>
#include <stdio.h>

#include "loupe.h"

/* The dtypes written (the command includes this header without the rest of
 * src/io, so it names its own). */
typedef enum safetensors_write_dtype {
    SAFETENSORS_WRITE_F32,
    SAFETENSORS_WRITE_I32,
    /* the integer buffers a model folder may hold, copied through as stored */
    SAFETENSORS_WRITE_I64,
    SAFETENSORS_WRITE_I16,
    SAFETENSORS_WRITE_I8,
    SAFETENSORS_WRITE_U8,
    SAFETENSORS_WRITE_BOOL,
} safetensors_write_dtype;

enum { SAFETENSORS_WRITE_MAX_DIMS = 4 };

/* One tensor to write: data holds the product of shape values of dtype, in
 * the host's byte order, which must be little-endian (every platform loupe
 * builds on). */
typedef struct safetensors_typed_entry {
    const char *name;                /* unique, not "__metadata__" */
    safetensors_write_dtype dtype;
    int n_dims;                      /* 0 .. SAFETENSORS_WRITE_MAX_DIMS */
    int64_t shape[SAFETENSORS_WRITE_MAX_DIMS]; /* (n_dims) */
    const void *data;
} safetensors_typed_entry;

/* A __metadata__ entry: both strings are written JSON-escaped. */
typedef struct safetensors_metadata {
    const char *key;
    const char *value;
} safetensors_metadata;

/* Writes entries (n) with metadata (n_metadata, may be 0) to out. `name`
 * names the file in messages: LOUPE_ERROR_IO when a write fails,
 * LOUPE_ERROR_MEMORY when the header cannot be built, LOUPE_ERROR_ARGUMENT
 * for a shape with a negative extent. */
loupe_status safetensors_write_typed(FILE *out, const char *name, const safetensors_typed_entry *entries, size_t n,
                                     const safetensors_metadata *metadata, size_t n_metadata, loupe_error *error);

/* safetensors_write_typed into path through file_replace: the file is
 * replaced only once complete and on disk. Errors as both name them. */
loupe_status safetensors_write_file(const char *path, const safetensors_typed_entry *entries, size_t n,
                                    const safetensors_metadata *metadata, size_t n_metadata, loupe_error *error);

#endif
