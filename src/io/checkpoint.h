/*
 * checkpoint.h - a Hugging Face model folder's weights: one model.safetensors
 * or model.safetensors.index.json with its shards.
 */
#ifndef LOUPE_IO_CHECKPOINT_H
#define LOUPE_IO_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "io/safetensors.h"
#include "loupe.h"

typedef struct checkpoint {
    char *directory;          /* owned */
    safetensors_file *files;  /* (n_files) shards, or the single file */
    size_t n_files;
    int64_t stored_bytes;     /* sum of the tensors' data bytes over all files */
} checkpoint;

/* Opens directory/model.safetensors, or else directory/model.safetensors.index.json
 * and every shard it names (plain file names only: no '/', no ".."). Every
 * tensor the index lists must be in the shard it names; a tensor must not
 * appear in two files. A shard's tensors that the index does not list are
 * still found by checkpoint_find. Neither file present: LOUPE_ERROR_IO naming
 * the directory and both names. On failure *out is left zeroed. */
loupe_status checkpoint_open(const char *directory, checkpoint *out, loupe_error *error);
void checkpoint_close(checkpoint *ckpt);

/* The tensor called name; if absent, tries it with the prefix "transformer."
 * added or removed (both spellings exist in published GPT-2 checkpoints).
 * NULL when neither exists. */
const tensor_view *checkpoint_find(const checkpoint *ckpt, const char *name);

/* Binds the float tensor `name` (found as by checkpoint_find) with exactly
 * the given shape (n_dims dims), as float32: *data_out is (shape). F32 data
 * that is 4-byte aligned is used in place (*owned_out is NULL); otherwise a
 * converted copy is allocated and returned in *owned_out as well (caller
 * frees). Errors name the file and the tensor: missing (LOUPE_ERROR_FORMAT),
 * wrong shape, expected vs found (LOUPE_ERROR_FORMAT), integer dtype
 * (LOUPE_ERROR_UNSUPPORTED), n_dims outside 0..TENSOR_MAX_DIMS
 * (LOUPE_ERROR_ARGUMENT); both outputs are NULL on failure. */
loupe_status checkpoint_bind_f32(const checkpoint *ckpt, const char *name, int n_dims,
                                 const int64_t *shape, const float **data_out, float **owned_out,
                                 loupe_error *error);

#endif
