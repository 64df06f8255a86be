/*
 * model.h - what an open loupe_model holds: its configuration, its mapped
 * checkpoint and float32 views of the weights (all internal).
 */
#ifndef LOUPE_MODEL_MODEL_H
#define LOUPE_MODEL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "io/checkpoint.h"
#include "io/hf_config.h"
#include "kernels/activations.h"
#include "loupe.h"

/* P below is n_ctx, I the MLP width (n_inner). */
typedef struct gpt2_block_weights {
    const float *ln_1_weight, *ln_1_bias;         /* (C) */
    const float *attn_qkv_weight;                 /* (C, 3C): Conv1D, [in, out] */
    const float *attn_qkv_bias;                   /* (3C) */
    const float *attn_proj_weight;                /* (C, C) */
    const float *attn_proj_bias;                  /* (C) */
    const float *ln_2_weight, *ln_2_bias;         /* (C) */
    const float *mlp_fc_weight;                   /* (C, I) */
    const float *mlp_fc_bias;                     /* (I) */
    const float *mlp_proj_weight;                 /* (I, C) */
    const float *mlp_proj_bias;                   /* (C) */
} gpt2_block_weights;

typedef struct gpt2_weights {
    const float *token_embedding;    /* (V, C) wte */
    const float *position_embedding; /* (P, C) wpe */
    gpt2_block_weights *blocks;      /* (L), owned */
    const float *ln_f_weight, *ln_f_bias; /* (C) */
    const float *unembedding;        /* (V, C): lm_head, or wte when tied */
} gpt2_weights;

struct loupe_model {
    char *directory;       /* owned */
    hf_config config;
    checkpoint weights_file;
    activation_kind activation;
    gpt2_weights weights;
    float **owned_buffers; /* (n_owned) converted copies of F16/BF16/unaligned tensors */
    size_t n_owned;
    size_t owned_capacity;
    char dtype_name[16];   /* storage dtype of the weights, or "mixed" */
    int64_t n_parameters;
};

/* Binds every GPT-2 tensor of model->weights_file into model->weights,
 * checking names and shapes against model->config. */
loupe_status gpt2_bind_weights(loupe_model *model, loupe_error *error);

/* The GPT-2 forward pass; see loupe_model_forward. */
loupe_status gpt2_forward(const loupe_model *model, const int32_t *ids, int n_tokens,
                          const loupe_forward_params *params, float *final_residual,
                          loupe_error *error);

#endif
