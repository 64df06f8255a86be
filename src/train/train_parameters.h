/*
 * train_parameters.h - the trainable parameters of a model: every float
 * tensor of its checkpoint converted to float32 into one vector, so that the
 * gradient, the optimizer's moments and a checkpoint are each one vector of
 * the same layout (tensor i at values + tensors[i].offset).
 */
#ifndef LOUPE_TRAIN_TRAIN_PARAMETERS_H
#define LOUPE_TRAIN_TRAIN_PARAMETERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loupe.h"

enum { TRAIN_TENSOR_MAX_DIMS = 4 };

/* One tensor of the vector. */
typedef struct train_tensor {
    char *name;                            /* as in the checkpoint (owned) */
    int n_dims;                            /* 0 .. TRAIN_TENSOR_MAX_DIMS */
    int64_t shape[TRAIN_TENSOR_MAX_DIMS];  /* (n_dims); unused entries 0 */
    size_t offset;                         /* into values, in floats: the tensors lie back to back */
    size_t count;                          /* product of shape (1 for a scalar) */
    bool decayed;                          /* AdamW weight decay applies: n_dims >= 2 (matrices and embeddings),
                                              not norms/biases */
} train_tensor;

typedef struct train_parameters {
    train_tensor *tensors; /* (n_tensors) every float tensor of the checkpoint, in the checkpoint's order:
                              the files (shards) in order, each file's tensors in its header's order */
    size_t n_tensors;
    size_t n_values;       /* total floats: the sum of the counts */
    float *values;         /* (n_values) F32, 64-byte aligned, one allocation */
} train_parameters;

/* Copies every F32/F16/BF16/F64 tensor of model->weights_file into one
 * float32 vector (F16 and BF16 exactly, F64 rounded to nearest), back to
 * back in checkpoint order. Integer tensors are skipped (not
 * parameters). A float tensor of more than TRAIN_TENSOR_MAX_DIMS dims is
 * LOUPE_ERROR_UNSUPPORTED naming file and tensor (E2701); out of memory
 * LOUPE_ERROR_MEMORY. On success release *out with train_parameters_free;
 * on failure *out is zeroed. */
loupe_status train_parameters_load(const loupe_model *model, train_parameters *out, loupe_error *error);

/* The tensor called name, tolerating the "transformer." prefix as
 * checkpoint_find does (tried as given, then with it added or removed);
 * NULL if absent. */
const train_tensor *train_parameters_find(const train_parameters *params, const char *name);

/* Releases everything; a zeroed or already freed *params is fine. */
void train_parameters_free(train_parameters *params);

#endif
