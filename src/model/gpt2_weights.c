/*
 * gpt2_weights.c - finds every GPT-2 tensor in the checkpoint and checks its
 * shape against config.json.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "util/error.h"

/* Binds one tensor and keeps any converted copy in the model's owned list. */
static loupe_status bind(loupe_model *model, const char *name, int n_dims, int64_t d0, int64_t d1,
                         const float **out, loupe_error *error) {
    int64_t shape[2] = {d0, d1};
    float *owned = NULL;
    loupe_status status = checkpoint_bind_f32(&model->weights_file, name, n_dims, shape, out, &owned, error);
    if (status != LOUPE_OK) return status;
    if (owned != NULL) {
        if (model->n_owned == model->owned_capacity) {
            size_t capacity = model->owned_capacity ? model->owned_capacity * 2 : 64;
            float **grown = realloc(model->owned_buffers, capacity * sizeof *grown);
            if (grown == NULL) {
                free(owned);
                return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory binding '%s'",
                                 model->directory, name);
            }
            model->owned_buffers = grown;
            model->owned_capacity = capacity;
        }
        model->owned_buffers[model->n_owned++] = owned;
    }
    const tensor_view *view = checkpoint_find(&model->weights_file, name);
    model->n_parameters += view->n_elements;
    const char *dtype = tensor_dtype_name(view->dtype);
    if (model->dtype_name[0] == '\0')
        snprintf(model->dtype_name, sizeof model->dtype_name, "%s", dtype);
    else if (strcmp(model->dtype_name, dtype) != 0)
        snprintf(model->dtype_name, sizeof model->dtype_name, "mixed");
    return LOUPE_OK;
}

loupe_status gpt2_bind_weights(loupe_model *model, loupe_error *error) {
    const hf_config *config = &model->config;
    int64_t C = config->n_embd, V = config->n_vocab, P = config->n_ctx, I = config->n_inner;
    gpt2_weights *w = &model->weights;
    loupe_status status;
#define BIND(name, n_dims, d0, d1, field)                                       \
    do {                                                                        \
        status = bind(model, name, n_dims, d0, d1, &(field), error);            \
        if (status != LOUPE_OK) return status;                                  \
    } while (0)

    BIND("transformer.wte.weight", 2, V, C, w->token_embedding);
    BIND("transformer.wpe.weight", 2, P, C, w->position_embedding);
    BIND("transformer.ln_f.weight", 1, C, 0, w->ln_f_weight);
    BIND("transformer.ln_f.bias", 1, C, 0, w->ln_f_bias);

    w->blocks = calloc((size_t)config->n_layer, sizeof *w->blocks);
    if (w->blocks == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", model->directory);
    for (int layer = 0; layer < config->n_layer; layer++) {
        gpt2_block_weights *b = &w->blocks[layer];
        char name[128];
#define BIND_BLOCK(suffix, n_dims, d0, d1, field)                                       \
        do {                                                                            \
            snprintf(name, sizeof name, "transformer.h.%d.%s", layer, suffix);          \
            BIND(name, n_dims, d0, d1, field);                                          \
        } while (0)
        BIND_BLOCK("ln_1.weight", 1, C, 0, b->ln_1_weight);
        BIND_BLOCK("ln_1.bias", 1, C, 0, b->ln_1_bias);
        BIND_BLOCK("attn.c_attn.weight", 2, C, 3 * C, b->attn_qkv_weight);
        BIND_BLOCK("attn.c_attn.bias", 1, 3 * C, 0, b->attn_qkv_bias);
        BIND_BLOCK("attn.c_proj.weight", 2, C, C, b->attn_proj_weight);
        BIND_BLOCK("attn.c_proj.bias", 1, C, 0, b->attn_proj_bias);
        BIND_BLOCK("ln_2.weight", 1, C, 0, b->ln_2_weight);
        BIND_BLOCK("ln_2.bias", 1, C, 0, b->ln_2_bias);
        BIND_BLOCK("mlp.c_fc.weight", 2, C, I, b->mlp_fc_weight);
        BIND_BLOCK("mlp.c_fc.bias", 1, I, 0, b->mlp_fc_bias);
        BIND_BLOCK("mlp.c_proj.weight", 2, I, C, b->mlp_proj_weight);
        BIND_BLOCK("mlp.c_proj.bias", 1, C, 0, b->mlp_proj_bias);
#undef BIND_BLOCK
    }

    /* A checkpoint may carry lm_head.weight even when tied; an untied model
     * must carry it. */
    const tensor_view *head = checkpoint_find(&model->weights_file, "lm_head.weight");
    if (config->tie_word_embeddings || head == NULL) {
        if (!config->tie_word_embeddings)
            return error_set(error, LOUPE_ERROR_FORMAT,
                             "%s: missing tensor 'lm_head.weight' (config.json: tie_word_embeddings is false)",
                             model->directory);
        w->unembedding = w->token_embedding;
    } else {
        BIND("lm_head.weight", 2, V, C, w->unembedding);
    }
#undef BIND
    return LOUPE_OK;
}
