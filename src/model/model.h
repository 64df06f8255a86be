/*
 * model.h - what an open loupe_model holds: its description, its mapped
 * checkpoint and views of the weights (all internal): matrices as stored
 * (kernels/weight_view.h), vectors (norms, biases) as float32.
 */
#ifndef LOUPE_MODEL_MODEL_H
#define LOUPE_MODEL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "arch/arch.h"
#include "arch/decoder.h"
#include "arch/gpt2.h"
#include "io/checkpoint.h"
#include "loupe.h"

struct loupe_model {
    char *directory;       /* owned */
    model_description description;
    checkpoint weights_file;
    weight_view token_embedding;    /* (V, C) */
    const float *final_norm_weight; /* (C) */
    const float *final_norm_bias;   /* (C), NULL for RMSNorm */
    weight_view unembedding;        /* (V, C): the head, or the token embedding when tied */
    gpt2_weights gpt2;                      /* gpt2 only */
    decoder_block_weights *decoder_blocks;  /* (L) the rotary families, owned */
    float **owned_buffers; /* (n_owned) float32 copies: F16/BF16 vectors, unaligned F32 and F64 tensors */
    size_t n_owned;
    size_t owned_capacity;
    char dtype_name[16];   /* storage dtype of the weights, or "mixed" */
    int64_t n_parameters;
};

/* Keys and values of the positions run so far, per layer (loupe.h's
 * loupe_kv_cache). W = KV D (GPT-2: C). */
struct loupe_kv_cache {
    const loupe_model *model;
    int capacity; /* positions it can hold, 1 .. n_ctx */
    int length;   /* positions it holds */
    int width;    /* W */
    float *keys;   /* (L, capacity, W), after the rotation where there is one */
    float *values; /* (L, capacity, W) */
};

/* Layer `layer`'s (capacity, W) keys and values (layer from 0). */
float *kv_cache_keys(loupe_kv_cache *cache, int layer);
float *kv_cache_values(loupe_kv_cache *cache, int layer);

/* Binds the float tensor `name` with the given shape (n_dims 1 or 2; d1
 * unused for 1) as checkpoint_bind_f32 does, keeping any
 * converted copy among the model's owned buffers and counting its
 * parameters and dtype. For vectors (norms, biases): matrices go through
 * model_bind_matrix. */
loupe_status model_bind_tensor(loupe_model *model, const char *name, int n_dims, int64_t d0, int64_t d1,
                               const float **out, loupe_error *error);

/* Binds the matrix `name` (rows, columns) as a view, as checkpoint_bind_view
 * does (BF16 and F16 in place), keeping any converted copy and counting its
 * parameters and dtype. */
loupe_status model_bind_matrix(loupe_model *model, const char *name, int64_t rows, int64_t columns,
                               weight_view *out, loupe_error *error);

/* Floats of the scratch a forward pass gives matmul_view for the model's
 * products (every reduction width: C, A = H D, I), for every thread. */
size_t model_weight_scratch_floats(const model_description *description);

/* The unembedding: `head_name` (V, C) when the checkpoint has it and the
 * embeddings are not tied; the token embedding when tied. An untied model
 * without the head is LOUPE_ERROR_FORMAT naming it. */
loupe_status model_bind_unembedding(loupe_model *model, const char *head_name, loupe_error *error);

/* Checks a forward pass's input against the description: T in 1 .. n_ctx,
 * every id in 0 .. V-1 (messages name the position); with a cache (else
 * NULL), its length + T within its capacity. */
loupe_status model_check_input(const loupe_model *model, const int32_t *ids, int T, const loupe_kv_cache *cache,
                               loupe_error *error);

/* Passes a tap to the caller's callback (if any; the attention tap only when
 * asked for). */
loupe_status model_report_tap(const loupe_forward_params *params, loupe_tap_kind kind, int layer,
                              const float *residual, int T, int C);

/* Ends a forward pass: copies the final residual (T, C) out when asked and
 * the pass succeeded, and names a status a tap stopped it with. */
loupe_status model_finish_forward(loupe_status status, const float *residual, int T, int C,
                                  float *final_residual, loupe_error *error);

/* norm(in) -> out (N, C) as the description's norm kind, with weight and
 * bias (NULL for RMSNorm). out may equal in. */
void model_apply_norm(const model_description *description, float *out, const float *in,
                      const float *weight, const float *bias, int N, int C);

/* The final norm every family uses: model_apply_norm with the final norm's
 * tensors. */
void model_final_norm_common(const loupe_model *model, const float *residual, int n_rows, float *normed);

#endif
