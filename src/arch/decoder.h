/*
 * decoder.h - the rotary decoder that Llama, Mistral, Qwen2, Qwen3, Gemma
 * and GPT-NeoX share: pre-norm blocks of grouped-query attention with rotary
 * positions and an MLP (gated or plain), sequential or parallel residual.
 * Each family's file gives its config defaults and its tensor names; the
 * forward pass and the binding are here, once.
 *
 * Weights are nn.Linear, (out, in). A = H D (query width), G = KV D.
 */
#ifndef LOUPE_ARCH_DECODER_H
#define LOUPE_ARCH_DECODER_H

#include <stdbool.h>

#include "arch/arch.h"
#include "kernels/weight_view.h"

typedef struct decoder_block_weights {
    const float *attn_norm_weight, *attn_norm_bias; /* (C); bias with LayerNorm only */
    weight_view q_weight;                           /* (A, C) */
    const float *q_bias;                            /* (A) */
    weight_view k_weight, v_weight;                 /* (G, C) */
    const float *k_bias, *v_bias;                   /* (G) */
    weight_view qkv_weight;                         /* fused: (3A, C), rows per head [q_h k_h v_h] */
    const float *qkv_bias;                          /* (3A) */
    const float *q_norm_weight, *k_norm_weight;     /* (D), Qwen3 */
    weight_view o_weight;                           /* (C, A) */
    const float *o_bias;                            /* (C) */
    const float *mlp_norm_weight, *mlp_norm_bias;   /* (C) */
    weight_view gate_weight, up_weight;             /* (I, C): gate with gated MLPs only */
    const float *gate_bias, *up_bias;               /* (I) */
    weight_view down_weight;                        /* (C, I) */
    const float *down_bias;                         /* (C) */
} decoder_block_weights;

/* A family's tensor names. Block names are suffixes after
 * layer_prefix (a format with one %d, the layer from 0); a NULL name is a
 * tensor the family does not have. Every name here is given without
 * ".weight"/".bias". */
typedef struct decoder_tensor_names {
    const char *embedding;   /* "model.embed_tokens" */
    const char *final_norm;  /* "model.norm" */
    const char *head;        /* "lm_head" */
    const char *layer_prefix; /* "model.layers.%d." */
    const char *attn_norm, *mlp_norm;
    const char *q, *k, *v, *qkv, *o;
    const char *q_norm, *k_norm;
    const char *gate, *up, *down;
} decoder_tensor_names;

/* Defaults a family gives for fields its config.json may leave out, and its
 * fixed traits. */
typedef struct decoder_family_traits {
    const char *activation;     /* hidden_act when absent */
    const char *activation_key; /* the key holding it: "hidden_act" (Gemma: "hidden_activation") */
    norm_kind norm;
    float norm_weight_offset;
    const char *eps_key;        /* "rms_norm_eps" or "layer_norm_eps" */
    double eps;                 /* when absent */
    bool tie_word_embeddings;   /* when absent */
    int head_dim;               /* when absent: 0 for C / H */
    bool gated_mlp;
    bool qkv_bias_key;          /* read attention_bias (default below) for q, k, v and o */
    bool attention_bias;        /* its default, or the fixed value */
    bool qkv_bias_only;         /* Qwen2: q, k, v biased, o not, no key */
    bool mlp_bias_key;          /* read mlp_bias (default false) */
    bool mlp_bias;              /* fixed MLP bias when there is no key (GPT-NeoX: true) */
    bool qk_norm;
    bool fused_qkv;
    bool parallel_residual_key; /* read use_parallel_residual (default true) */
    bool sliding_window_key;    /* read sliding_window (Mistral) */
    int sliding_window;         /* its default when absent (null: none) */
    bool refuse_sliding_window; /* use_sliding_window: true is unsupported (Qwen) */
    bool scale_embeddings;      /* Gemma: embeddings times sqrt(C) in the dtype */
    double rotary_fraction;     /* partial_rotary_factor when absent (GPT-NeoX's rotary_pct: 0.25) */
} decoder_family_traits;

/* Reads the common rotary-decoder fields of config.json with a family's
 * traits: sizes, norm, activation, biases, the rope parameters (top-level
 * rope_theta/rope_scaling/partial_rotary_factor or transformers 5's
 * rope_parameters; GPT-NeoX's rotary_pct and rotary_emb_base), dtype. */
loupe_status decoder_read_config(const cJSON *root, const char *path, const decoder_family_traits *traits,
                                 model_description *out, loupe_error *error);

/* Binds a family's tensors by its names, checking every shape. */
loupe_status decoder_bind_weights(loupe_model *model, const decoder_tensor_names *names,
                                  loupe_error *error);

/* The forward pass; see loupe_model_forward. The attention tap of a
 * parallel-residual block is x + attn(ln1 x), before the MLP's output is
 * added. */
loupe_status decoder_forward(const loupe_model *model, const int32_t *ids, int n_tokens,
                             const loupe_forward_params *params, loupe_kv_cache *cache, float *final_residual,
                             loupe_error *error);

extern const arch_family LLAMA_FAMILY, MISTRAL_FAMILY, QWEN2_FAMILY, QWEN3_FAMILY, GEMMA_FAMILY,
    GPT_NEOX_FAMILY;

#endif
