/*
 * model_support.c - what every family's binding and forward pass share:
 * binding a tensor, the unembedding, the input checks, the taps, the norms.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "kernels/matmul.h"
#include "kernels/norms.h"
#include "model/model.h"
#include "util/error.h"

/* Keeps a converted copy (may be NULL: nothing to keep) among the model's
 * owned buffers; frees it if that fails. */
static loupe_status keep_owned(loupe_model *model, const char *name, float *owned, loupe_error *error) {
    if (owned == NULL) return LOUPE_OK;
    if (model->n_owned == model->owned_capacity) {
        size_t capacity = model->owned_capacity ? model->owned_capacity * 2 : 64;
        float **grown = realloc(model->owned_buffers, capacity * sizeof *grown);
        if (grown == NULL) {
            free(owned);
            return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory binding '%s'", model->directory, name);
        }
        model->owned_buffers = grown;
        model->owned_capacity = capacity;
    }
    model->owned_buffers[model->n_owned++] = owned;
    return LOUPE_OK;
}

/* Counts a bound tensor's parameters and its storage dtype. */
static void count_tensor(loupe_model *model, const char *name) {
    const tensor_view *view = checkpoint_find(&model->weights_file, name);
    model->n_parameters += view->n_elements;
    const char *dtype = tensor_dtype_name(view->dtype);
    if (model->dtype_name[0] == '\0')
        snprintf(model->dtype_name, sizeof model->dtype_name, "%s", dtype);
    else if (strcmp(model->dtype_name, dtype) != 0)
        snprintf(model->dtype_name, sizeof model->dtype_name, "mixed");
}

loupe_status model_bind_tensor(loupe_model *model, const char *name, int n_dims, int64_t d0, int64_t d1,
                               const float **out, loupe_error *error) {
    int64_t shape[2] = {d0, d1};
    float *owned = NULL;
    loupe_status status = checkpoint_bind_f32(&model->weights_file, name, n_dims, shape, out, &owned, error);
    if (status == LOUPE_OK) status = keep_owned(model, name, owned, error);
    if (status == LOUPE_OK) count_tensor(model, name);
    return status;
}

loupe_status model_bind_matrix(loupe_model *model, const char *name, int64_t rows, int64_t columns,
                               weight_view *out, loupe_error *error) {
    float *owned = NULL;
    loupe_status status = checkpoint_bind_view(&model->weights_file, name, rows, columns, out, &owned, error);
    if (status == LOUPE_OK) status = keep_owned(model, name, owned, error);
    if (status == LOUPE_OK) count_tensor(model, name);
    return status;
}

size_t model_weight_scratch_floats(const model_description *description) {
    int widest = description->n_embd;
    if (description->n_head * description->head_dim > widest) widest = description->n_head * description->head_dim;
    if (description->n_inner > widest) widest = description->n_inner;
    return (size_t)omp_get_max_threads() * matmul_scratch_floats(widest);
}

loupe_status model_bind_unembedding(loupe_model *model, const char *head_name, loupe_error *error) {
    const model_description *description = &model->description;
    /* A checkpoint may carry the head even when tied; an untied model must. */
    const tensor_view *head = checkpoint_find(&model->weights_file, head_name);
    if (description->tie_word_embeddings || head == NULL) {
        if (!description->tie_word_embeddings)
            return error_set(error, LOUPE_ERROR_FORMAT,
                             "%s: missing tensor '%s' (config.json: tie_word_embeddings is false)",
                             model->directory, head_name);
        model->unembedding = model->token_embedding;
        return LOUPE_OK;
    }
    return model_bind_matrix(model, head_name, description->n_vocab, description->n_embd, &model->unembedding,
                             error);
}

loupe_status model_check_input(const loupe_model *model, const int32_t *ids, int T, const loupe_kv_cache *cache,
                               loupe_error *error) {
    const model_description *description = &model->description;
    if (T < 1) return error_set(error, LOUPE_ERROR_ARGUMENT, "the text has no tokens");
    if (cache != NULL && T > cache->capacity - cache->length)
        return error_set(error, LOUPE_ERROR_LIMIT,
                         "%d more tokens do not fit the cache of %d positions, which holds %d", T, cache->capacity,
                         cache->length);
    if (T > description->n_ctx)
        return error_set(error, LOUPE_ERROR_LIMIT,
                         "the text is %d tokens, longer than the model's context of %d tokens", T,
                         description->n_ctx);
    for (int t = 0; t < T; t++)
        if (ids[t] < 0 || ids[t] >= description->n_vocab)
            return error_set(error, LOUPE_ERROR_ARGUMENT,
                             "token id %d at position %d is outside the vocabulary (0 .. %d)", ids[t], t,
                             description->n_vocab - 1);
    return LOUPE_OK;
}

loupe_status model_report_tap(const loupe_forward_params *params, loupe_tap_kind kind, int layer,
                              const float *residual, int T, int C) {
    if (params == NULL || params->tap == NULL) return LOUPE_OK;
    if (kind == LOUPE_TAP_AFTER_ATTENTION && !params->tap_after_attention) return LOUPE_OK;
    return params->tap(params->tap_user, kind, layer, residual, T, C);
}

loupe_status model_finish_forward(loupe_status status, const float *residual, int T, int C,
                                  float *final_residual, loupe_error *error) {
    if (status == LOUPE_OK && final_residual != NULL)
        memcpy(final_residual, residual, (size_t)T * C * sizeof(float));
    else if (status != LOUPE_OK && error != NULL && error->status != status)
        error_set(error, status, "the forward pass was stopped by its tap (%s)", loupe_status_name(status));
    return status;
}

void model_apply_norm(const model_description *description, float *out, const float *in,
                      const float *weight, const float *bias, int N, int C) {
    if (description->norm == NORM_LAYER)
        layer_norm(out, in, weight, bias, N, C, (float)description->norm_eps);
    else
        rms_norm(out, in, weight, description->norm_weight_offset, N, C, (float)description->norm_eps);
}

void model_final_norm_common(const loupe_model *model, const float *residual, int n_rows, float *normed) {
    model_apply_norm(&model->description, normed, residual, model->final_norm_weight,
                     model->final_norm_bias, n_rows, model->description.n_embd);
}
