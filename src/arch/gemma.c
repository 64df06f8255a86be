/*
 * gemma.c - Gemma (1): embeddings times sqrt(hidden_size) rounded to the
 * model's dtype, (1 + w) RMSNorm, a tanh-GELU gate (hidden_activation,
 * gelu_pytorch_tanh when absent; hidden_act is ignored, as transformers does),
 * head_dim 256 when absent, tied head.
 */
#include "arch/decoder.h"
#include "model/model.h"

static const decoder_family_traits TRAITS = {
    .activation = "gelu_pytorch_tanh", .activation_key = "hidden_activation", .norm = NORM_RMS,
    .norm_weight_offset = 1.0f, .eps_key = "rms_norm_eps", .eps = 1e-6, .tie_word_embeddings = true,
    .head_dim = 256, .gated_mlp = true, .qkv_bias_key = true, .scale_embeddings = true, .rotary_fraction = 1.0,
};

static const decoder_tensor_names NAMES = {
    .embedding = "model.embed_tokens", .final_norm = "model.norm", .head = "lm_head",
    .layer_prefix = "model.layers.%d.", .attn_norm = "input_layernorm", .mlp_norm = "post_attention_layernorm",
    .q = "self_attn.q_proj", .k = "self_attn.k_proj", .v = "self_attn.v_proj", .o = "self_attn.o_proj",
    .gate = "mlp.gate_proj", .up = "mlp.up_proj", .down = "mlp.down_proj",
};

static loupe_status gemma_read_config(const cJSON *root, const char *path, model_description *out,
                                   loupe_error *error) {
    return decoder_read_config(root, path, &TRAITS, out, error);
}

static loupe_status gemma_bind_weights(loupe_model *model, loupe_error *error) {
    return decoder_bind_weights(model, &NAMES, error);
}

const arch_family GEMMA_FAMILY = {
    .model_type = "gemma",
    .architecture = "GemmaForCausalLM",
    .read_config = gemma_read_config,
    .bind_weights = gemma_bind_weights,
    .forward = decoder_forward,
    .final_norm = model_final_norm_common,
};
