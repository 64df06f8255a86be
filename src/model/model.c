/*
 * model.c - the public model API: open, describe, run, and the model's head
 * (final norm + unembedding) that the logit lens applies to every tap; the
 * family's table (src/arch) does the family's part of each.
 */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "io/json.h"
#include "kernels/matmul.h"
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
    cJSON *root = NULL;
    if (status == LOUPE_OK) status = json_parse(text, size, path, &root, error);
    if (status == LOUPE_OK) status = arch_describe(root, path, &model->description, error);
    cJSON_Delete(root);
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
    if (status == LOUPE_OK) status = checkpoint_open(directory, &model->weights_file, error);
    if (status == LOUPE_OK) status = model->description.family->bind_weights(model, error);
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
    free(model->gpt2.blocks);
    free(model->decoder_blocks);
    checkpoint_close(&model->weights_file);
    free(model->directory);
    free(model);
}

void loupe_model_get_info(const loupe_model *model, loupe_model_info *info) {
    const model_description *config = &model->description;
    memset(info, 0, sizeof *info);
    info->architecture = config->architecture;
    info->model_type = config->model_type;
    info->activation = config->activation_name;
    info->dtype = model->dtype_name;
    info->directory = model->directory;
    info->n_layer = config->n_layer;
    info->n_embd = config->n_embd;
    info->n_head = config->n_head;
    info->n_kv_head = config->n_kv_head;
    info->head_dim = config->head_dim;
    info->n_inner = config->n_inner;
    info->n_vocab = config->n_vocab;
    info->n_ctx = config->n_ctx;
    info->tied_unembedding = model->unembedding.data == model->token_embedding.data;
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
    return model->description.family->forward(model, ids, n_tokens, params, NULL, final_residual, error);
}

void loupe_model_final_norm(const loupe_model *model, const float *residual, int n_rows,
                            float *normed) {
    model->description.family->final_norm(model, residual, n_rows, normed);
}

loupe_status loupe_model_unembed(const loupe_model *model, const float *normed, int n_rows, float *logits) {
    const model_description *d = &model->description;
    float *scratch = NULL;
    if (weight_view_f32(&model->unembedding) == NULL) {
        scratch = malloc((size_t)omp_get_max_threads() * matmul_scratch_floats(d->n_embd) * sizeof *scratch);
        if (scratch == NULL) return LOUPE_ERROR_MEMORY;
    }
    matmul_view(logits, normed, &model->unembedding, NULL, n_rows, d->n_embd, d->n_vocab, MATMUL_WEIGHT_OUT_IN,
                false, scratch);
    free(scratch);
    return LOUPE_OK;
}

loupe_status loupe_model_logits(const loupe_model *model, const float *residual, int n_rows,
                                float *logits, loupe_error *error) {
    float *normed = malloc((size_t)n_rows * model->description.n_embd * sizeof *normed);
    if (normed == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for %d rows", n_rows);
    loupe_model_final_norm(model, residual, n_rows, normed);
    loupe_status status = loupe_model_unembed(model, normed, n_rows, logits);
    free(normed);
    if (status != LOUPE_OK) return error_set(error, status, "out of memory for the unembedding of %d rows", n_rows);
    return LOUPE_OK;
}

/* probs (V) after ids (T), through the cache when there is one (its
 * length advanced by T on success). */
static loupe_status next_probs(const loupe_model *model, loupe_kv_cache *cache, const int32_t *ids, int n_tokens,
                               float temperature, float *probs, loupe_error *error) {
    error_clear(error);
    if (!(temperature > 0.0f))
        return error_set(error, LOUPE_ERROR_ARGUMENT, "temperature must be positive");
    int C = model->description.n_embd;
    float *residual = malloc((size_t)(n_tokens > 0 ? n_tokens : 1) * C * sizeof *residual);
    if (residual == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "out of memory");
    loupe_status status = model->description.family->forward(model, ids, n_tokens, NULL, cache, residual, error);
    if (status == LOUPE_OK && cache != NULL) cache->length += n_tokens;
    if (status == LOUPE_OK)
        status = loupe_model_logits(model, residual + (size_t)(n_tokens - 1) * C, 1, probs, error);
    if (status == LOUPE_OK) softmax_row(probs, probs, model->description.n_vocab, temperature);
    free(residual);
    return status;
}

loupe_status loupe_model_next_probs(const loupe_model *model, const int32_t *ids, int n_tokens,
                                    float temperature, float *probs, loupe_error *error) {
    return next_probs(model, NULL, ids, n_tokens, temperature, probs, error);
}

/* ------------------------------------------------------------------------
 * Keys and values kept between calls
 * ---------------------------------------------------------------------- */

float *kv_cache_keys(loupe_kv_cache *cache, int layer) {
    return cache->keys + (size_t)layer * cache->capacity * cache->width;
}

float *kv_cache_values(loupe_kv_cache *cache, int layer) {
    return cache->values + (size_t)layer * cache->capacity * cache->width;
}

loupe_status loupe_kv_cache_create(const loupe_model *model, int capacity, loupe_kv_cache **cache_out,
                                   loupe_error *error) {
    *cache_out = NULL;
    error_clear(error);
    const model_description *d = &model->description;
    if (capacity < 1 || capacity > d->n_ctx)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "a cache of %d positions: the model's context is 1 .. %d",
                         capacity, d->n_ctx);
    loupe_kv_cache *cache = calloc(1, sizeof *cache);
    if (cache == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "out of memory");
    cache->model = model;
    cache->capacity = capacity;
    cache->width = d->n_kv_head * d->head_dim;
    size_t floats = (size_t)d->n_layer * (size_t)capacity * (size_t)cache->width;
    cache->keys = malloc(floats * sizeof(float));
    cache->values = malloc(floats * sizeof(float));
    if (cache->keys == NULL || cache->values == NULL) {
        loupe_kv_cache_free(cache);
        return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for a cache of %d positions", capacity);
    }
    *cache_out = cache;
    return LOUPE_OK;
}

void loupe_kv_cache_free(loupe_kv_cache *cache) {
    if (cache == NULL) return;
    free(cache->keys);
    free(cache->values);
    free(cache);
}

int loupe_kv_cache_length(const loupe_kv_cache *cache) { return cache->length; }

void loupe_kv_cache_clear(loupe_kv_cache *cache) { cache->length = 0; }

loupe_status loupe_model_next_probs_cached(const loupe_model *model, loupe_kv_cache *cache, const int32_t *ids,
                                           int n_tokens, float temperature, float *probs, loupe_error *error) {
    if (cache->model != model) {
        error_clear(error);
        return error_set(error, LOUPE_ERROR_ARGUMENT, "the cache belongs to another model");
    }
    return next_probs(model, cache, ids, n_tokens, temperature, probs, error);
}
