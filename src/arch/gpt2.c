/*
 * gpt2.c - the GPT-2 family's table: its config.json fields (io/hf_config.c
 * reads them, names and aliases as GPT-2 checkpoints write them).
 */
#include "arch/gpt2.h"

#include <string.h>

#include "io/hf_config.h"
#include "model/model.h"
#include "util/error.h"

static loupe_status gpt2_read_config(const cJSON *root, const char *path, model_description *out,
                                     loupe_error *error) {
    hf_config config;
    loupe_status status = hf_config_read(root, path, &config, error);
    if (status != LOUPE_OK) return status;
    if (activation_from_name(config.activation, &out->activation) != 0)
        return error_set(error, LOUPE_ERROR_UNSUPPORTED, "%s: activation_function '%s' is not supported (%s are)",
                         path, config.activation, ACTIVATION_SUPPORTED_NAMES);
    memcpy(out->activation_name, config.activation, sizeof out->activation_name);
    out->n_layer = config.n_layer;
    out->n_embd = config.n_embd;
    out->n_head = config.n_head;
    out->n_kv_head = config.n_head;
    out->head_dim = config.n_embd / config.n_head;
    out->n_inner = config.n_inner;
    out->n_vocab = config.n_vocab;
    out->n_ctx = config.n_ctx;
    out->norm = NORM_LAYER;
    out->norm_eps = config.layer_norm_epsilon;
    out->qkv_bias = out->output_bias = out->mlp_bias = true;
    out->embedding_scale = 1.0f;
    out->tie_word_embeddings = config.tie_word_embeddings;
    out->scale_attn_weights = config.scale_attn_weights;
    out->scale_attn_by_inverse_layer_idx = config.scale_attn_by_inverse_layer_idx;
    return LOUPE_OK;
}

const arch_family GPT2_FAMILY = {
    .model_type = "gpt2",
    .architecture = "GPT2LMHeadModel",
    .read_config = gpt2_read_config,
    .bind_weights = gpt2_bind_weights,
    .forward = gpt2_forward,
    .final_norm = model_final_norm_common,
};
