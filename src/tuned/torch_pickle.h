/*
 * torch_pickle.h - a restricted unpickler for the data.pkl of a PyTorch
 * archive holding a state dict of tensors (what torch.save writes for
 * module.state_dict()).
 *
 * It runs no code and builds no Python objects: it accepts only the opcodes
 * of protocols 2 to 4 that such a pickle uses (dicts, tuples, ints, bools,
 * None, strings, the memo, persistent ids) and only the globals
 * collections.OrderedDict, torch._utils._rebuild_tensor_v2 and
 * torch.FloatStorage, HalfStorage, BFloat16Storage. Anything else is
 * LOUPE_ERROR_UNSUPPORTED naming the opcode or the global and its byte
 * offset; a malformed pickle is LOUPE_ERROR_FORMAT. Limits: the pickle at
 * most TORCH_PICKLE_MAX_BYTES, memo indices below TORCH_PICKLE_MAX_MEMO,
 * tensors of at most TENSOR_MAX_DIMS dimensions.
 */
#ifndef LOUPE_TUNED_TORCH_PICKLE_H
#define LOUPE_TUNED_TORCH_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "io/safetensors.h"
#include "loupe.h"

enum {
    TORCH_PICKLE_MAX_BYTES = 16 << 20,
    TORCH_PICKLE_MAX_MEMO = 1 << 20,
};

/* One entry of the state dict: the tensor `name` is a view of the storage
 * `storage_key` (the archive's data/KEY record) of storage_numel elements
 * of `dtype`, starting at element `offset`, with shape and strides in
 * elements. The strings are NUL-terminated and owned by the list. */
typedef struct torch_pickle_tensor {
    char *name;
    char *storage_key;
    tensor_dtype dtype;
    int64_t storage_numel;
    int64_t offset;
    int n_dims;
    int64_t shape[TENSOR_MAX_DIMS];  /* (n_dims) */
    int64_t stride[TENSOR_MAX_DIMS]; /* (n_dims) */
} torch_pickle_tensor;

/* Reads a pickle of `size` bytes whose result must be a dict of string
 * keys to tensors, in file order. `name` starts every message. On success
 * *tensors_out (n_out entries) is freed with torch_pickle_free. */
loupe_status torch_pickle_read(const uint8_t *bytes, size_t size, const char *name,
                               torch_pickle_tensor **tensors_out, size_t *n_out, loupe_error *error);

void torch_pickle_free(torch_pickle_tensor *tensors, size_t n);

#endif
