/*
 * hf_config.c - reads the GPT-2 fields of a Hugging Face config.json (see
 * hf_config.h). Every size is checked against its limit here, before any
 * other module allocates from it.
 */
#include "io/hf_config.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "io/config_fields.h"
#include "io/json.h"
#include "util/error.h"

/* model_type must be present and "gpt2". */
static loupe_status read_model_type(const cJSON *root, const char *path, hf_config *out,
                                    loupe_error *error) {
    const cJSON *item = config_present_field(root, "model_type");
    if (item == NULL) return error_set(error, LOUPE_ERROR_FORMAT, "%s: model_type missing", path);
    if (!cJSON_IsString(item))
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: model_type is %s, expected a string", path,
                         json_type_name(item));
    if (strcmp(item->valuestring, "gpt2") != 0)
        return error_set(error, LOUPE_ERROR_UNSUPPORTED,
                         "%s: model_type \"%.64s\" is not supported (supported: gpt2)", path,
                         item->valuestring);
    return config_read_string(root, "model_type", "", path, out->model_type, sizeof out->model_type, error);
}

/* n_inner: null or absent means 4 C. */
static loupe_status read_inner_width(const cJSON *root, const char *path, hf_config *out,
                                     loupe_error *error) {
    if (config_present_field(root, "n_inner") == NULL) {
        out->n_inner = 4 * out->n_embd; /* n_embd <= HF_CONFIG_MAX_WIDTH: no overflow */
        return LOUPE_OK;
    }
    return config_read_size(root, "n_inner", NULL, HF_CONFIG_MAX_INNER, path, &out->n_inner, error);
}

/* layer_norm_epsilon: a positive finite number, 1e-5 when absent. */
static loupe_status read_epsilon(const cJSON *root, const char *path, hf_config *out,
                                 loupe_error *error) {
    return config_read_positive(root, "", "layer_norm_epsilon", 1e-5, path, &out->layer_norm_epsilon,
                                error);
}

loupe_status hf_config_read(const cJSON *root, const char *path, hf_config *out, loupe_error *error) {
    loupe_status status = read_model_type(root, path, out, error);
    if (status == LOUPE_OK) status = config_read_architecture(root, path, "", out->architecture, sizeof out->architecture, error);
    if (status == LOUPE_OK)
        status = config_read_string(root, "activation_function", "gelu_new", path, out->activation,
                             sizeof out->activation, error);
    if (status == LOUPE_OK) {
        const char *dtype_key = config_present_field(root, "dtype") ? "dtype" : "torch_dtype";
        status = config_read_string(root, dtype_key, "", path, out->dtype, sizeof out->dtype, error);
    }
    if (status == LOUPE_OK)
        status = config_read_size(root, "n_layer", "num_hidden_layers", HF_CONFIG_MAX_LAYERS, path,
                           &out->n_layer, error);
    if (status == LOUPE_OK)
        status = config_read_size(root, "n_embd", "hidden_size", HF_CONFIG_MAX_WIDTH, path, &out->n_embd, error);
    if (status == LOUPE_OK)
        status = config_read_size(root, "n_head", "num_attention_heads", HF_CONFIG_MAX_HEADS, path,
                           &out->n_head, error);
    if (status == LOUPE_OK)
        status = config_read_size(root, "vocab_size", NULL, HF_CONFIG_MAX_VOCAB, path, &out->n_vocab, error);
    if (status == LOUPE_OK)
        status = config_read_size(root, "n_positions", "max_position_embeddings", HF_CONFIG_MAX_CONTEXT, path,
                           &out->n_ctx, error);
    if (status == LOUPE_OK) status = read_inner_width(root, path, out, error);
    if (status == LOUPE_OK) status = read_epsilon(root, path, out, error);
    if (status == LOUPE_OK)
        status = config_read_bool(root, "tie_word_embeddings", true, path, &out->tie_word_embeddings, error);
    if (status == LOUPE_OK)
        status = config_read_bool(root, "scale_attn_weights", true, path, &out->scale_attn_weights, error);
    if (status == LOUPE_OK)
        status = config_read_bool(root, "scale_attn_by_inverse_layer_idx", false, path,
                           &out->scale_attn_by_inverse_layer_idx, error);
    if (status == LOUPE_OK && out->n_embd % out->n_head != 0)
        status = error_set(error, LOUPE_ERROR_FORMAT, "%s: n_embd %d is not divisible by n_head %d",
                           path, out->n_embd, out->n_head);
    return status;
}

loupe_status hf_config_parse(const char *json, size_t length, const char *display_name,
                             hf_config *out, loupe_error *error) {
    memset(out, 0, sizeof *out);
    cJSON *root = NULL;
    loupe_status status = json_parse(json, length, display_name, &root, error);
    if (status != LOUPE_OK) return status;
    if (cJSON_IsObject(root))
        status = hf_config_read(root, display_name, out, error);
    else
        status = error_set(error, LOUPE_ERROR_FORMAT, "%s: top level is %s, expected an object",
                           display_name, json_type_name(root));
    cJSON_Delete(root);
    if (status != LOUPE_OK) memset(out, 0, sizeof *out);
    return status;
}
