/*
 * test_arch_config.c - config.json through the architecture layer: each
 * family's defaults as transformers' configuration classes give them, the
 * rope parameters in both spellings (transformers 5's rope_parameters and
 * the older top-level keys), and the refusals naming their field.
 */
#include <string.h>

#include "arch/arch.h"
#include "test_support.h"

static const char *SIZES = "\"num_hidden_layers\": 2, \"hidden_size\": 64, \"num_attention_heads\": 4, "
                           "\"intermediate_size\": 96, \"vocab_size\": 100, \"max_position_embeddings\": 128";

/* Describes {"model_type": type, SIZES, extra}; returns the status. */
static loupe_status describe(const char *type, const char *extra, model_description *d, loupe_error *error) {
    char text[2048];
    snprintf(text, sizeof text, "{\"model_type\": \"%s\", %s%s%s}", type, SIZES, extra[0] ? ", " : "", extra);
    cJSON *root = NULL;
    loupe_status status = json_parse(text, strlen(text), "config.json", &root, error);
    if (status == LOUPE_OK) status = arch_describe(root, "config.json", d, error);
    cJSON_Delete(root);
    return status;
}

static void check_defaults(void) {
    model_description d;
    loupe_error error;
    /* LlamaConfig: silu, rms_norm_eps 1e-6, theta 10000, untied, kv = heads */
    CHECK_MSG(describe("llama", "", &d, &error) == LOUPE_OK, "%s", error.message);
    CHECK(strcmp(d.architecture, "LlamaForCausalLM") == 0 && d.activation == ACTIVATION_SILU);
    CHECK(d.norm == NORM_RMS && d.norm_weight_offset == 0.0f && d.norm_eps == 1e-6);
    CHECK(d.n_kv_head == 4 && d.head_dim == 16 && d.rope.rotary_dim == 16 && d.rope.theta == 10000.0);
    CHECK(!d.tie_word_embeddings && !d.qkv_bias && !d.output_bias && !d.mlp_bias && d.gated_mlp);
    CHECK(d.rope.scaling == ROPE_SCALING_DEFAULT && d.sliding_window == 0 && d.embedding_scale == 1.0f);
    /* MistralConfig: sliding_window 4096 when absent, none when null */
    CHECK(describe("mistral", "", &d, &error) == LOUPE_OK && d.sliding_window == 4096);
    CHECK(describe("mistral", "\"sliding_window\": null", &d, &error) == LOUPE_OK && d.sliding_window == 0);
    /* Qwen2: q, k, v biased, o not */
    CHECK(describe("qwen2", "", &d, &error) == LOUPE_OK && d.qkv_bias && !d.output_bias && !d.mlp_bias);
    /* Qwen3Config: head_dim 128, q/k norms */
    CHECK(describe("qwen3", "", &d, &error) == LOUPE_OK && d.head_dim == 128 && d.qk_norm);
    /* GemmaConfig: head_dim 256, tied, gelu_pytorch_tanh whatever hidden_act says, (1 + w) */
    CHECK(describe("gemma", "\"hidden_act\": \"gelu\"", &d, &error) == LOUPE_OK);
    CHECK(d.head_dim == 256 && d.tie_word_embeddings && d.activation == ACTIVATION_GELU_TANH);
    CHECK(d.norm_weight_offset == 1.0f && d.embedding_scale == 8.0f); /* sqrt(64) */
    /* sqrt(2048) = 45.2548...: float32 45.254833, bfloat16 45.25, float16 45.25 */
    const char *wide = "\"hidden_size\": 2048, \"head_dim\": 256, \"dtype\": \"bfloat16\"";
    char text[1024];
    snprintf(text, sizeof text, "{\"model_type\": \"gemma\", \"num_hidden_layers\": 1, \"num_attention_heads\": 8, "
                                "\"intermediate_size\": 96, \"vocab_size\": 100, \"max_position_embeddings\": 128, %s}",
             wide);
    cJSON *root = NULL;
    CHECK(json_parse(text, strlen(text), "config.json", &root, &error) == LOUPE_OK);
    CHECK(arch_describe(root, "config.json", &d, &error) == LOUPE_OK && d.embedding_scale == 45.25f);
    cJSON_Delete(root);
    /* GPTNeoXConfig: LayerNorm 1e-5, gelu, rotary_pct 0.25, parallel, biases */
    CHECK(describe("gpt_neox", "", &d, &error) == LOUPE_OK);
    CHECK(d.norm == NORM_LAYER && d.norm_eps == 1e-5 && d.activation == ACTIVATION_GELU_ERF);
    CHECK(d.rope.rotary_dim == 4 && d.parallel_residual && d.qkv_bias && d.output_bias && d.mlp_bias);
    CHECK(d.fused_qkv && !d.gated_mlp && !d.tie_word_embeddings);
    CHECK(describe("gpt_neox", "\"rotary_pct\": 0.5, \"rotary_emb_base\": 500, \"use_parallel_residual\": false", &d,
                   &error) == LOUPE_OK);
    CHECK(d.rope.rotary_dim == 8 && d.rope.theta == 500.0 && !d.parallel_residual);
}

static void check_rope_spellings(void) {
    model_description d;
    loupe_error error;
    /* transformers 5 */
    CHECK(describe("llama", "\"rope_parameters\": {\"rope_type\": \"llama3\", \"rope_theta\": 500000.0, \"factor\": 32.0, "
                            "\"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192}",
                   &d, &error) == LOUPE_OK);
    CHECK(d.rope.scaling == ROPE_SCALING_LLAMA3 && d.rope.theta == 500000.0 && d.rope.factor == 32.0 &&
          d.rope.original_context == 8192.0);
    /* the older top-level keys, the scaling's type under "type" */
    CHECK(describe("llama", "\"rope_theta\": 1000.0, \"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}", &d,
                   &error) == LOUPE_OK);
    CHECK(d.rope.scaling == ROPE_SCALING_LINEAR && d.rope.theta == 1000.0 && d.rope.factor == 2.0);
    CHECK(describe("llama", "\"rope_scaling\": null, \"partial_rotary_factor\": 0.5", &d, &error) == LOUPE_OK);
    CHECK(d.rope.scaling == ROPE_SCALING_DEFAULT && d.rope.rotary_dim == 8);
}

static void expect_refusal(const char *type, const char *extra, loupe_status expected, const char *words) {
    model_description d;
    loupe_error error;
    loupe_status status = describe(type, extra, &d, &error);
    CHECK_MSG(status == expected && strstr(error.message, words) != NULL, "%s {%s}: %s", type, extra, error.message);
}

static void check_refusals(void) {
    expect_refusal("mamba", "", LOUPE_ERROR_UNSUPPORTED, "supported: gpt2, llama, mistral, qwen2, qwen3, gemma, gpt_neox");
    expect_refusal("llama", "\"rope_scaling\": {\"rope_type\": \"dynamic\", \"factor\": 2.0}", LOUPE_ERROR_UNSUPPORTED,
                   "rope_scaling.rope_type \"dynamic\" is not supported (supported: default, linear, llama3)");
    expect_refusal("llama", "\"rope_scaling\": {\"type\": \"yarn\"}", LOUPE_ERROR_UNSUPPORTED, "rope_scaling.type \"yarn\"");
    expect_refusal("llama", "\"rope_scaling\": {\"rope_type\": \"linear\"}", LOUPE_ERROR_FORMAT, "rope_scaling.factor missing");
    expect_refusal("llama", "\"hidden_act\": \"swish\"", LOUPE_ERROR_UNSUPPORTED, "hidden_act 'swish' is not supported");
    expect_refusal("qwen3", "\"use_sliding_window\": true", LOUPE_ERROR_UNSUPPORTED, "use_sliding_window");
    expect_refusal("llama", "\"num_key_value_heads\": 3", LOUPE_ERROR_FORMAT, "not a multiple of num_key_value_heads 3");
    expect_refusal("gpt_neox", "\"num_key_value_heads\": 2", LOUPE_ERROR_FORMAT, "must equal num_attention_heads");
    expect_refusal("llama", "\"rms_norm_eps\": 0", LOUPE_ERROR_FORMAT, "rms_norm_eps is 0, expected a positive number");
    expect_refusal("mistral", "\"sliding_window\": -4", LOUPE_ERROR_FORMAT, "sliding_window");
    expect_refusal("llama", "\"head_dim\": 3", LOUPE_ERROR_UNSUPPORTED, "rotary width");
}

int main(void) {
    check_defaults();
    check_rope_spellings();
    check_refusals();
    return test_finish("test_arch_config");
}
