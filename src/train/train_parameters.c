/*
 * train_parameters.c - the checkpoint's float tensors as one float32 vector.
 */
#include "train/train_parameters.h"

#include <stdlib.h>
#include <string.h>

#include "io/checkpoint.h"
#include "model/model.h"
#include "util/error.h"

#define TRANSFORMER_PREFIX "transformer."

static bool dtype_is_float(tensor_dtype dtype) {
    return dtype == TENSOR_DTYPE_F32 || dtype == TENSOR_DTYPE_F16 || dtype == TENSOR_DTYPE_BF16 ||
           dtype == TENSOR_DTYPE_F64;
}

/* ------------------------------------------------------------------------
 * Loading
 * ---------------------------------------------------------------------- */

/* Counts the float tensors and their floats, checking dims. */
static loupe_status count_tensors(const checkpoint *ckpt, size_t *n_tensors, size_t *n_values,
                                  loupe_error *error) {
    *n_tensors = 0;
    *n_values = 0;
    for (size_t f = 0; f < ckpt->n_files; f++) {
        const safetensors_file *file = &ckpt->files[f];
        for (size_t t = 0; t < file->n_tensors; t++) {
            const tensor_view *tensor = &file->tensors[t];
            if (!dtype_is_float(tensor->dtype)) continue;
            if (tensor->n_dims > TRAIN_TENSOR_MAX_DIMS)
                return error_set(error, LOUPE_ERROR_UNSUPPORTED,
                                 "%s: tensor '%s' has %d dimensions; training takes at most %d", tensor->file,
                                 tensor->name, tensor->n_dims, (int)TRAIN_TENSOR_MAX_DIMS);
            (*n_tensors)++;
            *n_values += (size_t)tensor->n_elements;
        }
    }
    return LOUPE_OK;
}

loupe_status train_parameters_load(const loupe_model *model, train_parameters *out, loupe_error *error) {
    memset(out, 0, sizeof *out);
    const checkpoint *ckpt = &model->weights_file;
    size_t n_tensors, n_values;
    loupe_status status = count_tensors(ckpt, &n_tensors, &n_values, error);
    if (status != LOUPE_OK) return status;
    size_t bytes = n_values * sizeof(float);
    bytes = (bytes + 63) / 64 * 64; /* aligned_alloc wants a multiple of the alignment */
    out->tensors = calloc(n_tensors ? n_tensors : 1, sizeof *out->tensors);
    out->values = aligned_alloc(64, bytes ? bytes : 64);
    if (out->tensors == NULL || out->values == NULL) {
        train_parameters_free(out);
        return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for %zu trainable parameters", n_values);
    }
    size_t offset = 0;
    for (size_t f = 0; f < ckpt->n_files; f++) {
        const safetensors_file *file = &ckpt->files[f];
        for (size_t t = 0; t < file->n_tensors; t++) {
            const tensor_view *tensor = &file->tensors[t];
            if (!dtype_is_float(tensor->dtype)) continue;
            train_tensor *entry = &out->tensors[out->n_tensors];
            entry->name = strdup(tensor->name);
            if (entry->name == NULL) {
                train_parameters_free(out);
                return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for tensor names");
            }
            out->n_tensors++;
            entry->n_dims = tensor->n_dims;
            for (int d = 0; d < tensor->n_dims; d++) entry->shape[d] = tensor->shape[d];
            entry->offset = offset;
            entry->count = (size_t)tensor->n_elements;
            entry->decayed = tensor->n_dims >= 2;
            status = tensor_to_f32(tensor, out->values + offset, error);
            if (status != LOUPE_OK) {
                train_parameters_free(out);
                return status;
            }
            offset += entry->count;
        }
    }
    out->n_values = offset;
    return LOUPE_OK;
}

/* ------------------------------------------------------------------------
 * Look-up
 * ---------------------------------------------------------------------- */

/* name equals candidate once either has the "transformer." prefix removed
 * (a one-sided difference only, as checkpoint_find's two spellings). */
static bool same_name_modulo_prefix(const char *name, const char *candidate) {
    size_t prefix_length = strlen(TRANSFORMER_PREFIX);
    if (strncmp(name, TRANSFORMER_PREFIX, prefix_length) == 0)
        return strcmp(name + prefix_length, candidate) == 0;
    if (strncmp(candidate, TRANSFORMER_PREFIX, prefix_length) == 0)
        return strcmp(name, candidate + prefix_length) == 0;
    return false;
}

const train_tensor *train_parameters_find(const train_parameters *params, const char *name) {
    for (size_t i = 0; i < params->n_tensors; i++)
        if (strcmp(params->tensors[i].name, name) == 0) return &params->tensors[i];
    for (size_t i = 0; i < params->n_tensors; i++)
        if (same_name_modulo_prefix(name, params->tensors[i].name)) return &params->tensors[i];
    return NULL;
}

void train_parameters_free(train_parameters *params) {
    if (params == NULL) return;
    for (size_t i = 0; i < params->n_tensors; i++) free(params->tensors[i].name);
    free(params->tensors);
    free(params->values);
    memset(params, 0, sizeof *params);
}
