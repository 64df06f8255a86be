/*
 * gpt_neox.c - GPT-NeoX and Pythia: LayerNorm, one query_key_value tensor laid
 * out per head, rotary positions on the first rotary_pct of each head (0.25
 * when absent), a plain GELU MLP with biases, parallel residual
 * (use_parallel_residual, true when absent) or sequential, untied embed_out.
 */
#include "arch/decoder.h"
#include "model/model.h"

static const decoder_family_traits TRAITS = {
    .activation = "gelu", .activation_key = "hidden_act", .norm = NORM_LAYER, .eps_key = "layer_norm_eps",
    .eps = 1e-5, .tie_word_embeddings = false, .qkv_bias_key = true, .attention_bias = true, .mlp_bias = true,
    .fused_qkv = true, .parallel_residual_key = true, .rotary_fraction = 0.25,
};

static const decoder_tensor_names NAMES = {
    .embedding = "gpt_neox.embed_in", .final_norm = "gpt_neox.final_layer_norm", .head = "embed_out",
    .layer_prefix = "gpt_neox.layers.%d.", .attn_norm = "input_layernorm", .mlp_norm = "post_attention_layernorm",
    .qkv = "attention.query_key_value", .o = "attention.dense", .up = "mlp.dense_h_to_4h",
    .down = "mlp.dense_4h_to_h",
};

static loupe_status gpt_neox_read_config(const cJSON *root, const char *path, model_description *out,
                                   loupe_error *error) {
    return decoder_read_config(root, path, &TRAITS, out, error);
}

static loupe_status gpt_neox_bind_weights(loupe_model *model, loupe_error *error) {
    return decoder_bind_weights(model, &NAMES, error);
}

const arch_family GPT_NEOX_FAMILY = {
    .model_type = "gpt_neox",
    .architecture = "GPTNeoXForCausalLM",
    .read_config = gpt_neox_read_config,
    .bind_weights = gpt_neox_bind_weights,
    .forward = decoder_forward,
    .final_norm = model_final_norm_common,
};
