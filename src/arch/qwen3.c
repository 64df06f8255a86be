/*
 * qwen3.c - Qwen3: Llama's block with an RMSNorm over each head of q and k
 * before the rotation (q_norm, k_norm), head_dim 128 when absent; use_sliding_window
 * must be false.
 */
#include "arch/decoder.h"
#include "model/model.h"

static const decoder_family_traits TRAITS = {
    .activation = "silu", .activation_key = "hidden_act", .norm = NORM_RMS, .eps_key = "rms_norm_eps",
    .gated_mlp = true, .rotary_fraction = 1.0,
    .eps = 1e-6, .tie_word_embeddings = false, .head_dim = 128, .qkv_bias_key = true,
    .refuse_sliding_window = true, .qk_norm = true,
};

static const decoder_tensor_names NAMES = {
    .embedding = "model.embed_tokens", .final_norm = "model.norm", .head = "lm_head",
    .layer_prefix = "model.layers.%d.", .attn_norm = "input_layernorm", .mlp_norm = "post_attention_layernorm",
    .q = "self_attn.q_proj", .k = "self_attn.k_proj", .v = "self_attn.v_proj", .o = "self_attn.o_proj",
    .gate = "mlp.gate_proj", .up = "mlp.up_proj", .down = "mlp.down_proj",
    .q_norm = "self_attn.q_norm", .k_norm = "self_attn.k_norm",
};

static loupe_status qwen3_read_config(const cJSON *root, const char *path, model_description *out,
                                   loupe_error *error) {
    return decoder_read_config(root, path, &TRAITS, out, error);
}

static loupe_status qwen3_bind_weights(loupe_model *model, loupe_error *error) {
    return decoder_bind_weights(model, &NAMES, error);
}

const arch_family QWEN3_FAMILY = {
    .model_type = "qwen3",
    .architecture = "Qwen3ForCausalLM",
    .read_config = qwen3_read_config,
    .bind_weights = qwen3_bind_weights,
    .forward = decoder_forward,
    .final_norm = model_final_norm_common,
};
