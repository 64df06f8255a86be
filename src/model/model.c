/*
 * model.c - the public model API: open, describe, run, and the model's head
 * (final norm + unembedding) that the logit lens applies to every tap.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/matmul.h"
#include "kernels/norms.h"
#include "kernels/softmax.h"
#include "model/model.h"
#include "util/cpu_features.h"
#include "util/error.h"
#include "util/file_map.h"

enum { CONFIG_MAX_BYTES = 1 << 20 };

static loupe_status read_config(loupe_model *model, loupe_error *error) {
    char *path = path_join(model->directory, "config.json");
    if (path == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "out of memory");
    char *text = NULL;
    size_t size = 0;
    loupe_status status = file_read_all(path, CONFIG_MAX_BYTES, &text, &size, error);
    if (status == LOUPE_OK) status = hf_config_parse(text, size, path, &model->config, error);
    free(text);
    free(path);
    return status;
}

loupe_status loupe_model_open(const char *directory, loupe_model **model_out, loupe_error *error) {
    *model_out = NULL;
    error_clear(error);
    if (directory == NULL) return error_set(error, LOUPE_ERROR_ARGUMENT, "no model directory given");
    /* A mistyped or impossible LOUPE_CPU is refused before any kernel runs. */
    loupe_status cpu_status = cpu_features_check(error);
    if (cpu_status != LOUPE_OK) return cpu_status;
    loupe_model *model = calloc(1, sizeof *model);
    if (model == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "out of memory");
    model->directory = strdup(directory);
    if (model->directory == NULL) {
        free(model);
        return error_set(error, LOUPE_ERROR_MEMORY, "out of memory");
    }
    loupe_status status = directory_check(directory, error);
    if (status == LOUPE_OK) status = read_config(model, error);
    if (status == LOUPE_OK && activation_from_name(model->config.activation, &model->activation) != 0)
        status = error_set(error, LOUPE_ERROR_UNSUPPORTED,
                           "%s/config.json: activation_function '%s' is not supported (gelu_new, "
                           "gelu_pytorch_tanh, gelu, relu are)",
                           directory, model->config.activation);
    if (status == LOUPE_OK) status = checkpoint_open(directory, &model->weights_file, error);
    if (status == LOUPE_OK) status = gpt2_bind_weights(model, error);
    if (status != LOUPE_OK) {
        loupe_model_close(model);
        return status;
    }
    *model_out = model;
    return LOUPE_OK;
}

void loupe_model_close(loupe_model *model) {
    if (model == NULL) return;
    for (size_t i = 0; i < model->n_owned; i++) free(model->owned_buffers[i]);
    free(model->owned_buffers);
    free(model->weights.blocks);
    checkpoint_close(&model->weights_file);
    free(model->directory);
    free(model);
}

void loupe_model_get_info(const loupe_model *model, loupe_model_info *info) {
    const hf_config *config = &model->config;
    memset(info, 0, sizeof *info);
    info->architecture = config->architecture[0] ? config->architecture : "GPT2LMHeadModel";
    info->model_type = config->model_type;
    info->activation = config->activation;
    info->dtype = model->dtype_name;
    info->directory = model->directory;
    info->n_layer = config->n_layer;
    info->n_embd = config->n_embd;
    info->n_head = config->n_head;
    info->n_inner = config->n_inner;
    info->n_vocab = config->n_vocab;
    info->n_ctx = config->n_ctx;
    info->tied_unembedding = model->weights.unembedding == model->weights.token_embedding;
    info->n_parameters = model->n_parameters;
    info->weight_bytes = model->weights_file.stored_bytes;
}

loupe_forward_params loupe_forward_default_params(void) {
    loupe_forward_params params = {.tap = NULL, .tap_user = NULL, .tap_after_attention = false};
    return params;
}

loupe_status loupe_model_forward(const loupe_model *model, const int32_t *ids, int n_tokens,
                                 const loupe_forward_params *params, float *final_residual,
                                 loupe_error *error) {
    error_clear(error);
    return gpt2_forward(model, ids, n_tokens, params, final_residual, error);
}

void loupe_model_final_norm(const loupe_model *model, const float *residual, int n_rows,
                            float *normed) {
    layer_norm(normed, residual, model->weights.ln_f_weight, model->weights.ln_f_bias, n_rows,
               model->config.n_embd, (float)model->config.layer_norm_epsilon);
}

void loupe_model_unembed(const loupe_model *model, const float *normed, int n_rows, float *logits) {
    matmul(logits, normed, model->weights.unembedding, NULL, n_rows, model->config.n_embd,
           model->config.n_vocab, MATMUL_WEIGHT_OUT_IN, false);
}

loupe_status loupe_model_logits(const loupe_model *model, const float *residual, int n_rows,
                                float *logits, loupe_error *error) {
    float *normed = malloc((size_t)n_rows * model->config.n_embd * sizeof *normed);
    if (normed == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for %d rows", n_rows);
    loupe_model_final_norm(model, residual, n_rows, normed);
    loupe_model_unembed(model, normed, n_rows, logits);
    free(normed);
    return LOUPE_OK;
}

loupe_status loupe_model_next_probs(const loupe_model *model, const int32_t *ids, int n_tokens,
                                    float temperature, float *probs, loupe_error *error) {
    if (!(temperature > 0.0f))
        return error_set(error, LOUPE_ERROR_ARGUMENT, "temperature must be positive");
    int C = model->config.n_embd;
    float *residual = malloc((size_t)(n_tokens > 0 ? n_tokens : 1) * C * sizeof *residual);
    if (residual == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "out of memory");
    loupe_status status = loupe_model_forward(model, ids, n_tokens, NULL, residual, error);
    if (status == LOUPE_OK)
        status = loupe_model_logits(model, residual + (size_t)(n_tokens - 1) * C, 1, probs, error);
    if (status == LOUPE_OK) softmax_row(probs, probs, model->config.n_vocab, temperature);
    free(residual);
    return status;
}
