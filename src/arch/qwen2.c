/*
 * qwen2.c - Qwen2 and Qwen2.5: Llama's block with biases on q, k and v (not
 * on o or the MLP); use_sliding_window must be false.
 */
#include "arch/decoder.h"
#include "model/model.h"

static const decoder_family_traits TRAITS = {
    .activation = "silu", .activation_key = "hidden_act", .norm = NORM_RMS, .eps_key = "rms_norm_eps",
    .gated_mlp = true, .rotary_fraction = 1.0,
    .eps = 1e-6, .tie_word_embeddings = false, .qkv_bias_only = true, .refuse_sliding_window = true,
};

static const decoder_tensor_names NAMES = {
    .embedding = "model.embed_tokens", .final_norm = "model.norm", .head = "lm_head",
    .layer_prefix = "model.layers.%d.", .attn_norm = "input_layernorm", .mlp_norm = "post_attention_layernorm",
    .q = "self_attn.q_proj", .k = "self_attn.k_proj", .v = "self_attn.v_proj", .o = "self_attn.o_proj",
    .gate = "mlp.gate_proj", .up = "mlp.up_proj", .down = "mlp.down_proj",
};

static loupe_status qwen2_read_config(const cJSON *root, const char *path, model_description *out,
                                   loupe_error *error) {
    return decoder_read_config(root, path, &TRAITS, out, error);
}

static loupe_status qwen2_bind_weights(loupe_model *model, loupe_error *error) {
    return decoder_bind_weights(model, &NAMES, error);
}

const arch_family QWEN2_FAMILY = {
    .model_type = "qwen2",
    .architecture = "Qwen2ForCausalLM",
    .read_config = qwen2_read_config,
    .bind_weights = qwen2_bind_weights,
    .forward = decoder_forward,
    .final_norm = model_final_norm_common,
};
