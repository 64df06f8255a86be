/*
 * gpt2_weights.c - finds every GPT-2 tensor in the checkpoint and checks its
 * shape against config.json.
 */
#include <stdio.h>
#include <stdlib.h>

#include "arch/gpt2.h"

#include "model/model.h"
#include "util/error.h"

loupe_status gpt2_bind_weights(loupe_model *model, loupe_error *error) {
    const model_description *config = &model->description;
    int64_t C = config->n_embd, V = config->n_vocab, P = config->n_ctx, I = config->n_inner;
    gpt2_weights *w = &model->gpt2;
    loupe_status status;
#define BIND(name, n_dims, d0, d1, field)                                       \
    do {                                                                        \
        status = model_bind_tensor(model, name, n_dims, d0, d1, &(field), error);            \
        if (status != LOUPE_OK) return status;                                  \
    } while (0)
#define BIND_MATRIX(name, d0, d1, field)                                        \
    do {                                                                        \
        status = model_bind_matrix(model, name, d0, d1, &(field), error);       \
        if (status != LOUPE_OK) return status;                                  \
    } while (0)

    BIND_MATRIX("transformer.wte.weight", V, C, model->token_embedding);
    BIND_MATRIX("transformer.wpe.weight", P, C, w->position_embedding);
    BIND("transformer.ln_f.weight", 1, C, 0, model->final_norm_weight);
    BIND("transformer.ln_f.bias", 1, C, 0, model->final_norm_bias);

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
#define BIND_BLOCK_MATRIX(suffix, d0, d1, field)                                        \
        do {                                                                            \
            snprintf(name, sizeof name, "transformer.h.%d.%s", layer, suffix);          \
            BIND_MATRIX(name, d0, d1, field);                                           \
        } while (0)
        BIND_BLOCK("ln_1.weight", 1, C, 0, b->ln_1_weight);
        BIND_BLOCK("ln_1.bias", 1, C, 0, b->ln_1_bias);
        BIND_BLOCK_MATRIX("attn.c_attn.weight", C, 3 * C, b->attn_qkv_weight);
        BIND_BLOCK("attn.c_attn.bias", 1, 3 * C, 0, b->attn_qkv_bias);
        BIND_BLOCK_MATRIX("attn.c_proj.weight", C, C, b->attn_proj_weight);
        BIND_BLOCK("attn.c_proj.bias", 1, C, 0, b->attn_proj_bias);
        BIND_BLOCK("ln_2.weight", 1, C, 0, b->ln_2_weight);
        BIND_BLOCK("ln_2.bias", 1, C, 0, b->ln_2_bias);
        BIND_BLOCK_MATRIX("mlp.c_fc.weight", C, I, b->mlp_fc_weight);
        BIND_BLOCK("mlp.c_fc.bias", 1, I, 0, b->mlp_fc_bias);
        BIND_BLOCK_MATRIX("mlp.c_proj.weight", I, C, b->mlp_proj_weight);
        BIND_BLOCK("mlp.c_proj.bias", 1, C, 0, b->mlp_proj_bias);
#undef BIND_BLOCK
#undef BIND_BLOCK_MATRIX
    }

#undef BIND
#undef BIND_MATRIX
    return model_bind_unembedding(model, "lm_head.weight", error);
}
