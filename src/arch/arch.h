/*
 * arch.h - the architecture layer: one description of a model read from its
 * config.json, and one table of operations per family (gpt2, llama,
 * mistral, qwen2, qwen3, gemma, gpt_neox). Everything outside src/arch
 * reaches a model through loupe_model and this table; docs/ARCHITECTURES.md
 * says per family what is read and how each tap is defined.
 */
#ifndef LOUPE_ARCH_ARCH_H
#define LOUPE_ARCH_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/json.h"
#include "kernels/activations.h"
#include "kernels/rope.h"
#include "loupe.h"

typedef enum norm_kind {
    NORM_LAYER, /* LayerNorm with weight and bias */
    NORM_RMS,   /* RMSNorm: weight only; Gemma's (1 + w) through norm_weight_offset */
} norm_kind;

typedef struct arch_family arch_family;

/* What the forward pass needs to know, whatever the family. D is head_dim,
 * KV n_kv_head, I n_inner. */
typedef struct model_description {
    const arch_family *family;
    char model_type[32];     /* as config.json writes it */
    char architecture[64];   /* architectures[0], or the family's usual class name */
    char activation_name[32];
    char dtype[16];          /* "dtype" or "torch_dtype" as written, "" if absent */
    activation_kind activation;
    int n_layer, n_embd, n_head, n_kv_head, head_dim, n_inner, n_vocab, n_ctx;
    norm_kind norm;
    float norm_weight_offset; /* 0, or 1 for Gemma's (1 + w) */
    double norm_eps;
    bool rotary;             /* rotary position embeddings (else learned positions, GPT-2) */
    rope_params rope;
    bool gated_mlp;          /* down(act(gate(x)) * up(x)); else down(act(up(x))) */
    bool qkv_bias, output_bias, mlp_bias;
    bool qk_norm;            /* RMSNorm over each head of q and k before the rotation (Qwen3) */
    bool fused_qkv;          /* one query_key_value tensor laid out per head (GPT-NeoX) */
    bool parallel_residual;  /* x + attn(ln1 x) + mlp(ln2 x) (GPT-NeoX) */
    int sliding_window;      /* 0: none; else each position sees this many (itself included) */
    float embedding_scale;   /* embeddings are multiplied by it (Gemma: sqrt(C) in the dtype) */
    bool tie_word_embeddings;
    bool scale_attn_weights, scale_attn_by_inverse_layer_idx; /* GPT-2's attention scale */
} model_description;

/* One family's operations. */
struct arch_family {
    const char *model_type;   /* config.json's model_type */
    const char *architecture; /* the class name info reports when architectures is absent */
    /* Fills the family's fields of *out from config.json (root, named path in
     * messages); the common fields (model_type, architecture, dtype) are set. */
    loupe_status (*read_config)(const cJSON *root, const char *path, model_description *out,
                                loupe_error *error);
    /* Binds the family's tensors by their Hugging Face names, checking shapes. */
    loupe_status (*bind_weights)(loupe_model *model, loupe_error *error);
    /* The forward pass with its taps; see loupe_model_forward. With a cache
     * (else NULL), ids are the positions after the cache's length: they
     * attend to its keys and values too, and their own are written into it
     * (its length is the caller's to advance). */
    loupe_status (*forward)(const loupe_model *model, const int32_t *ids, int n_tokens,
                            const loupe_forward_params *params, loupe_kv_cache *cache, float *final_residual,
                            loupe_error *error);
    /* The final norm on residual rows (N, C) -> normed (N, C). */
    void (*final_norm)(const loupe_model *model, const float *residual, int n_rows, float *normed);
};

/* Reads config.json (root, named path in messages) into *out: finds the
 * family by model_type (an unknown one is LOUPE_ERROR_UNSUPPORTED listing
 * the supported types) and lets it read the rest. */
loupe_status arch_describe(const cJSON *root, const char *path, model_description *out,
                           loupe_error *error);

/* Writes "gpt2, llama, ...", the supported model types, into buffer
 * (capacity bytes, truncated as snprintf does), for messages. */
void arch_supported_types(char *buffer, size_t capacity);

#endif
