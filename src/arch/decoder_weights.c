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

/* Binds `base`.weight (and `base`.bias when with_bias) with the given
 * weight shape (n_dims 1 or 2); the bias is (d0). */
static loupe_status bind_pair(loupe_model *model, const char *base, bool with_bias, int n_dims, int64_t d0,
                              int64_t d1, const float **weight, const float **bias, loupe_error *error) {
    char name[192];
    snprintf(name, sizeof name, "%s.weight", base);
    loupe_status status = model_bind_tensor(model, name, n_dims, d0, d1, weight, error);
    if (status == LOUPE_OK && with_bias) {
        snprintf(name, sizeof name, "%s.bias", base);
        status = model_bind_tensor(model, name, 1, d0, 0, bias, error);
    }
    return status;
}

/* Binds block `layer`'s tensor `suffix` (NULL: the family has none). */
static loupe_status bind_block(loupe_model *model, const decoder_tensor_names *names, int layer,
                               const char *suffix, bool with_bias, int n_dims, int64_t d0, int64_t d1,
                               const float **weight, const float **bias, loupe_error *error) {
    if (suffix == NULL) return LOUPE_OK;
    char prefix[96], base[192];
    snprintf(prefix, sizeof prefix, names->layer_prefix, layer);
    snprintf(base, sizeof base, "%s%s", prefix, suffix);
    return bind_pair(model, base, with_bias, n_dims, d0, d1, weight, bias, error);
}

loupe_status decoder_bind_weights(loupe_model *model, const decoder_tensor_names *names, loupe_error *error) {
    const model_description *d = &model->description;
    int64_t C = d->n_embd, V = d->n_vocab, I = d->n_inner, D = d->head_dim;
    int64_t A = (int64_t)d->n_head * D, G = (int64_t)d->n_kv_head * D;
    bool layer_norm_bias = d->norm == NORM_LAYER;
    char head[96];
    loupe_status status = bind_pair(model, names->embedding, false, 2, V, C, &model->token_embedding, NULL, error);
    if (status == LOUPE_OK)
        status = bind_pair(model, names->final_norm, layer_norm_bias, 1, C, 0, &model->final_norm_weight,
                           &model->final_norm_bias, error);
    if (status != LOUPE_OK) return status;
    model->decoder_blocks = calloc((size_t)d->n_layer, sizeof *model->decoder_blocks);
    if (model->decoder_blocks == NULL)
        return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", model->directory);
    for (int layer = 0; layer < d->n_layer && status == LOUPE_OK; layer++) {
        decoder_block_weights *b = &model->decoder_blocks[layer];
#define BLOCK(suffix, with_bias, n_dims, d0, d1, weight, bias)                                              \
    if (status == LOUPE_OK)                                                                                 \
    status = bind_block(model, names, layer, suffix, with_bias, n_dims, d0, d1, weight, bias, error)
        BLOCK(names->attn_norm, layer_norm_bias, 1, C, 0, &b->attn_norm_weight, &b->attn_norm_bias);
        BLOCK(names->mlp_norm, layer_norm_bias, 1, C, 0, &b->mlp_norm_weight, &b->mlp_norm_bias);
        if (d->fused_qkv) {
            BLOCK(names->qkv, d->qkv_bias, 2, 3 * A, C, &b->qkv_weight, &b->qkv_bias);
        } else {
            BLOCK(names->q, d->qkv_bias, 2, A, C, &b->q_weight, &b->q_bias);
            BLOCK(names->k, d->qkv_bias, 2, G, C, &b->k_weight, &b->k_bias);
            BLOCK(names->v, d->qkv_bias, 2, G, C, &b->v_weight, &b->v_bias);
        }
        if (d->qk_norm) {
            BLOCK(names->q_norm, false, 1, D, 0, &b->q_norm_weight, NULL);
            BLOCK(names->k_norm, false, 1, D, 0, &b->k_norm_weight, NULL);
        }
        BLOCK(names->o, d->output_bias, 2, C, A, &b->o_weight, &b->o_bias);
        if (d->gated_mlp) BLOCK(names->gate, d->mlp_bias, 2, I, C, &b->gate_weight, &b->gate_bias);
        BLOCK(names->up, d->mlp_bias, 2, I, C, &b->up_weight, &b->up_bias);
        BLOCK(names->down, d->mlp_bias, 2, C, I, &b->down_weight, &b->down_bias);
#undef BLOCK
    }
    if (status != LOUPE_OK) return status;
    snprintf(head, sizeof head, "%s.weight", names->head);
    return model_bind_unembedding(model, head, error);
}
