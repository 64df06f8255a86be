/*
 * checkpoint.h - a Hugging Face model folder's weights: one model.safetensors
 * or model.safetensors.index.json with its shards.
 */
#ifndef LOUPE_IO_CHECKPOINT_H
#define LOUPE_IO_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "io/json.h"
#include "io/safetensors.h"
#include "kernels/weight_view.h"
#include "loupe.h"
#include "util/string_map.h"

/* An index lists one line per tensor; 64 MB holds millions of them. */
enum { CHECKPOINT_MAX_INDEX_BYTES = 64 * 1024 * 1024 };

/* A checked model.safetensors.index.json. */
typedef struct checkpoint_index {
    cJSON *root;              /* the parsed file (owned) */
    const cJSON *weight_map;  /* inside root: tensor name -> shard file name */
    string_map shard_of_name; /* shard file name -> 0, 1, ... in order of first mention */
    size_t n_shards;          /* at least 1 */
} checkpoint_index;

/* Parses `length` bytes of index text (need not be NUL-terminated):
 * a JSON object whose weight_map is a non-empty object mapping tensor names
 * to plain file names (no '/', not "." or ".."). display_name names the file
 * in messages. On success release *out with checkpoint_index_free; on failure
 * it holds nothing. */
loupe_status checkpoint_index_parse(const char *text, size_t length, const char *display_name,
                                    checkpoint_index *out, loupe_error *error);
void checkpoint_index_free(checkpoint_index *index);

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

/* Binds the float matrix `name` (found as by checkpoint_find) with exactly
 * the shape (rows, columns) as a view (kernels/weight_view.h): BF16 and F16
 * data in place, as stored (any alignment); F32 data that is 4-byte aligned
 * in place; other F32 data, and F64, as a converted float32 copy returned
 * in *owned_out as well (caller frees; NULL otherwise). Errors as
 * checkpoint_bind_f32's; *view_out is zeroed and *owned_out NULL on
 * failure. */
loupe_status checkpoint_bind_view(const checkpoint *ckpt, const char *name, int64_t rows, int64_t columns,
                                  weight_view *view_out, float **owned_out, loupe_error *error);

#endif
