/*
 * decoder_weights.c - binds a rotary decoder family's tensors by the names
 * its file gives (see decoder.h), checking each shape against the
 * description.
 */
#include <stdio.h>
#include <stdlib.h>

#include "arch/decoder.h"
#include "model/model.h"
#include "util/error.h"

/* Binds the vector `base`.weight (d0), and `base`.bias (d0) when with_bias. */
static loupe_status bind_vectors(loupe_model *model, const char *base, bool with_bias, int64_t d0,
                                 const float **weight, const float **bias, loupe_error *error) {
    char name[192];
    snprintf(name, sizeof name, "%s.weight", base);
    loupe_status status = model_bind_tensor(model, name, 1, d0, 0, weight, error);
    if (status == LOUPE_OK && with_bias) {
        snprintf(name, sizeof name, "%s.bias", base);
        status = model_bind_tensor(model, name, 1, d0, 0, bias, error);
    }
    return status;
}

/* Binds the matrix `base`.weight (d0, d1), and `base`.bias (d0) when with_bias. */
static loupe_status bind_linear(loupe_model *model, const char *base, bool with_bias, int64_t d0, int64_t d1,
                                weight_view *weight, const float **bias, loupe_error *error) {
    char name[192];
    snprintf(name, sizeof name, "%s.weight", base);
    loupe_status status = model_bind_matrix(model, name, d0, d1, weight, error);
    if (status == LOUPE_OK && with_bias) {
        snprintf(name, sizeof name, "%s.bias", base);
        status = model_bind_tensor(model, name, 1, d0, 0, bias, error);
    }
    return status;
}

/* The name of block `layer`'s tensor `suffix` without ".weight"/".bias". */
static void block_base(const decoder_tensor_names *names, int layer, const char *suffix, char *base, size_t capacity) {
    char prefix[96];
    snprintf(prefix, sizeof prefix, names->layer_prefix, layer);
    snprintf(base, capacity, "%s%s", prefix, suffix);
}

/* Binds block `layer`'s norm `suffix` (C) (NULL: the family has none). */
static loupe_status bind_block_norm(loupe_model *model, const decoder_tensor_names *names, int layer,
                                    const char *suffix, bool with_bias, int64_t d0, const float **weight,
                                    const float **bias, loupe_error *error) {
    if (suffix == NULL) return LOUPE_OK;
    char base[192];
    block_base(names, layer, suffix, base, sizeof base);
    return bind_vectors(model, base, with_bias, d0, weight, bias, error);
}

/* Binds block `layer`'s linear layer `suffix` (NULL: the family has none). */
static loupe_status bind_block_linear(loupe_model *model, const decoder_tensor_names *names, int layer,
                                      const char *suffix, bool with_bias, int64_t d0, int64_t d1,
                                      weight_view *weight, const float **bias, loupe_error *error) {
    if (suffix == NULL) return LOUPE_OK;
    char base[192];
    block_base(names, layer, suffix, base, sizeof base);
    return bind_linear(model, base, with_bias, d0, d1, weight, bias, error);
}

loupe_status decoder_bind_weights(loupe_model *model, const decoder_tensor_names *names, loupe_error *error) {
    const model_description *d = &model->description;
    int64_t C = d->n_embd, V = d->n_vocab, I = d->n_inner, D = d->head_dim;
    int64_t A = (int64_t)d->n_head * D, G = (int64_t)d->n_kv_head * D;
    bool layer_norm_bias = d->norm == NORM_LAYER;
    char head[96];
    loupe_status status = bind_linear(model, names->embedding, false, V, C, &model->token_embedding, NULL, error);
    if (status == LOUPE_OK)
        status = bind_vectors(model, names->final_norm, layer_norm_bias, C, &model->final_norm_weight,
                              &model->final_norm_bias, error);
    if (status != LOUPE_OK) return status;
    model->decoder_blocks = calloc((size_t)d->n_layer, sizeof *model->decoder_blocks);
    if (model->decoder_blocks == NULL)
        return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", model->directory);
    for (int layer = 0; layer < d->n_layer && status == LOUPE_OK; layer++) {
        decoder_block_weights *b = &model->decoder_blocks[layer];
#define NORM(suffix, weight, bias)                                                                            \
    if (status == LOUPE_OK)                                                                                 \
    status = bind_block_norm(model, names, layer, suffix, layer_norm_bias, C, weight, bias, error)
#define LINEAR(suffix, with_bias, d0, d1, weight, bias)                                                     \
    if (status == LOUPE_OK)                                                                                 \
    status = bind_block_linear(model, names, layer, suffix, with_bias, d0, d1, weight, bias, error)
        NORM(names->attn_norm, &b->attn_norm_weight, &b->attn_norm_bias);
        NORM(names->mlp_norm, &b->mlp_norm_weight, &b->mlp_norm_bias);
        if (d->fused_qkv) {
            LINEAR(names->qkv, d->qkv_bias, 3 * A, C, &b->qkv_weight, &b->qkv_bias);
        } else {
            LINEAR(names->q, d->qkv_bias, A, C, &b->q_weight, &b->q_bias);
            LINEAR(names->k, d->qkv_bias, G, C, &b->k_weight, &b->k_bias);
            LINEAR(names->v, d->qkv_bias, G, C, &b->v_weight, &b->v_bias);
        }
        if (d->qk_norm) {
            if (status == LOUPE_OK)
                status = bind_block_norm(model, names, layer, names->q_norm, false, D, &b->q_norm_weight, NULL, error);
            if (status == LOUPE_OK)
                status = bind_block_norm(model, names, layer, names->k_norm, false, D, &b->k_norm_weight, NULL, error);
        }
        LINEAR(names->o, d->output_bias, C, A, &b->o_weight, &b->o_bias);
        if (d->gated_mlp) LINEAR(names->gate, d->mlp_bias, I, C, &b->gate_weight, &b->gate_bias);
        LINEAR(names->up, d->mlp_bias, I, C, &b->up_weight, &b->up_bias);
        LINEAR(names->down, d->mlp_bias, C, I, &b->down_weight, &b->down_bias);
#undef NORM
#undef LINEAR
    }
    if (status != LOUPE_OK) return status;
    snprintf(head, sizeof head, "%s.weight", names->head);
    return model_bind_unembedding(model, head, error);
}
