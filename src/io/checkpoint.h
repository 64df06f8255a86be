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
    int64_t stored_bytes;     /* sum of the tensors' data bytes */
} checkpoint;

/* Opens directory/model.safetensors, or else directory/model.safetensors.index.json
 * and every shard it names. Every tensor the index lists must be in the shard
 * it names; a tensor must not appear in two shards. */
loupe_status checkpoint_open(const char *directory, checkpoint *out, loupe_error *error);
void checkpoint_close(checkpoint *ckpt);

/* The tensor called name; if absent, tries it with the prefix "transformer."
 * added or removed (both spellings exist in published GPT-2 checkpoints).
 * NULL when neither exists. */
const tensor_view *checkpoint_find(const checkpoint *ckpt, const char *name);

/* Binds the float tensor `name` with exactly the given shape (n_dims dims),
 * as float32. F32 data that is 4-byte aligned is used in place (*owned_out is
 * NULL); otherwise a converted copy is allocated and returned in *owned_out as
 * well (caller frees). Errors name the file and the tensor: missing, wrong
 * shape (expected vs found), non-float dtype. */
loupe_status checkpoint_bind_f32(const checkpoint *ckpt, const char *name, int n_dims,
                                 const int64_t *shape, const float **data_out, float **owned_out,
                                 loupe_error *error);

#endif
