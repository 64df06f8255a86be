/*
 * gpt2.h - the GPT-2 family (GPT-2, DistilGPT-2): LayerNorm, learned
 * positions, Conv1D weights ([in, out]), multi-head attention.
 */
#ifndef LOUPE_ARCH_GPT2_H
#define LOUPE_ARCH_GPT2_H

#include "arch/arch.h"
#include "kernels/weight_view.h"

/* P below is n_ctx, I the MLP width (n_inner). */
typedef struct gpt2_block_weights {
    const float *ln_1_weight, *ln_1_bias;         /* (C) */
    weight_view attn_qkv_weight;                    /* (C, 3C): Conv1D, [in, out] */
    const float *attn_qkv_bias;                   /* (3C) */
    weight_view attn_proj_weight;                   /* (C, C) */
    const float *attn_proj_bias;                  /* (C) */
    const float *ln_2_weight, *ln_2_bias;         /* (C) */
    weight_view mlp_fc_weight;                      /* (C, I) */
    const float *mlp_fc_bias;                     /* (I) */
    weight_view mlp_proj_weight;                    /* (I, C) */
    const float *mlp_proj_bias;                   /* (C) */
} gpt2_block_weights;

typedef struct gpt2_weights {
    weight_view position_embedding;  /* (P, C) wpe */
    gpt2_block_weights *blocks;      /* (L), owned */
} gpt2_weights;

extern const arch_family GPT2_FAMILY;

/* Binds every GPT-2 tensor of model->weights_file, checking names and
 * shapes against the description. */
loupe_status gpt2_bind_weights(loupe_model *model, loupe_error *error);

/* The GPT-2 forward pass; see loupe_model_forward. */
loupe_status gpt2_forward(const loupe_model *model, const int32_t *ids, int n_tokens,
                          const loupe_forward_params *params, loupe_kv_cache *cache, float *final_residual,
                          loupe_error *error);

#endif
