/*
 * gpt2_forward.c - the GPT-2 forward pass with taps on the residual stream.
 *
 * Per block, as transformers' GPT2Block (pre-norm):
 *   residual += c_proj(attention(c_attn(ln_1(residual))))
 *   residual += mlp.c_proj(act(mlp.c_fc(ln_2(residual))))
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arch/gpt2.h"
#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/norms.h"
#include "model/model.h"
#include "util/error.h"

/* Working memory for one forward pass, carved from one allocation. */
typedef struct gpt2_run_state {
    float *residual; /* (T, C) */
    float *normed;   /* (T, C) a norm's output; also the heads' output before c_proj */
    float *wide;     /* (T, max(3C, I)) qkv (T, 3C), later the MLP hidden layer (T, I) */
    float *scores;   /* attention scratch: (min(T, ATTENTION_QUERY_BLOCK), T) */
    float *weight_panels; /* matmul_view's scratch (model_weight_scratch_floats) */
    float *arena;
} gpt2_run_state;

/* The buffers are shared where lifetimes allow (qkv is dead once attention
 * has run; the norm's output once c_attn has read it), which keeps the
 * forward pass's peak memory low at long contexts. */
static int run_state_build(gpt2_run_state *state, const model_description *config, int T, int past) {
    size_t t = (size_t)T, c = (size_t)config->n_embd, i = (size_t)config->n_inner;
    size_t wide = 3 * c > i ? 3 * c : i;
    size_t total =
        t * c * 2 + t * wide + attention_scratch_floats_past(T, past) + model_weight_scratch_floats(config);
    state->arena = malloc(total * sizeof(float));
    if (state->arena == NULL) return -1;
    float *next = state->arena;
    state->residual = next, next += t * c;
    state->normed = next, next += t * c;
    state->wide = next, next += t * wide;
    state->weight_panels = next, next += model_weight_scratch_floats(config);
    state->scores = next;
    return 0;
}

static void run_state_free(gpt2_run_state *state) { free(state->arena); }

/* normed (T, C) <- the heads' outputs from qkv (T, 3C) of block `layer`;
 * with a cache, the block's keys and values of the T positions are appended
 * to it first and the queries see all of its positions. */
static void attend(const model_description *config, int layer, gpt2_run_state *state, loupe_kv_cache *cache,
                   int past, int T, float scale) {
    int C = config->n_embd, H = config->n_head;
    if (cache == NULL) {
        attention_causal(state->normed, state->wide, state->scores, T, C, H, scale);
        return;
    }
    float *keys = kv_cache_keys(cache, layer), *values = kv_cache_values(cache, layer);
    for (int t = 0; t < T; t++) {
        const float *row = state->wide + (size_t)t * 3 * C;
        memcpy(keys + ((size_t)past + t) * C, row + C, (size_t)C * sizeof(float));
        memcpy(values + ((size_t)past + t) * C, row + 2 * C, (size_t)C * sizeof(float));
    }
    attention_shape shape = {.T = T, .past = past, .n_heads = H, .n_kv_heads = H, .head_dim = C / H,
                             .q_stride = 3 * C, .k_stride = C, .v_stride = C, .out_stride = C, .scale = scale};
    attention_grouped(state->normed, state->wide, keys, values, state->scores, &shape);
}

loupe_status gpt2_forward(const loupe_model *model, const int32_t *ids, int T,
                          const loupe_forward_params *params, loupe_kv_cache *cache, float *final_residual,
                          loupe_error *error) {
    const model_description *config = &model->description;
    const gpt2_weights *w = &model->gpt2;
    int C = config->n_embd, H = config->n_head, I = config->n_inner;
    loupe_status status = model_check_input(model, ids, T, cache, error);
    if (status != LOUPE_OK) return status;
    int past = cache ? cache->length : 0;

    gpt2_run_state state;
    if (run_state_build(&state, config, T, past) != 0)
        return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for a %d-token forward pass", T);

    /* normed is free until the first norm: it holds the position rows. */
    weight_view_to_f32(&w->position_embedding, past, T, 0, C, state.normed, C);
    for (int t = 0; t < T; t++) {
        const float *position = state.normed + (size_t)t * C;
        float *row = state.residual + (size_t)t * C;
        weight_view_to_f32(&model->token_embedding, ids[t], 1, 0, C, row, C);
        for (int c = 0; c < C; c++) row[c] += position[c];
    }
    status = model_report_tap(params, LOUPE_TAP_EMBEDDING, 0, state.residual, T, C);

    float eps = (float)config->norm_eps;
    for (int layer = 0; layer < config->n_layer && status == LOUPE_OK; layer++) {
        const gpt2_block_weights *b = &w->blocks[layer];
        float scale = 1.0f;
        if (config->scale_attn_weights) scale /= sqrtf((float)(C / H));
        if (config->scale_attn_by_inverse_layer_idx) scale /= (float)(layer + 1);

        layer_norm(state.normed, state.residual, b->ln_1_weight, b->ln_1_bias, T, C, eps);
        matmul_view(state.wide, state.normed, &b->attn_qkv_weight, b->attn_qkv_bias, T, C, 3 * C,
               MATMUL_WEIGHT_IN_OUT, false, state.weight_panels);
        attend(config, layer, &state, cache, past, T, scale);
        matmul_view(state.residual, state.normed, &b->attn_proj_weight, b->attn_proj_bias, T, C, C,
               MATMUL_WEIGHT_IN_OUT, true, state.weight_panels);
        status = model_report_tap(params, LOUPE_TAP_AFTER_ATTENTION, layer + 1, state.residual, T, C);
        if (status != LOUPE_OK) break;

        layer_norm(state.normed, state.residual, b->ln_2_weight, b->ln_2_bias, T, C, eps);
        matmul_view(state.wide, state.normed, &b->mlp_fc_weight, b->mlp_fc_bias, T, C, I,
               MATMUL_WEIGHT_IN_OUT, false, state.weight_panels);
        activation_apply(config->activation, state.wide, (size_t)T * I);
        matmul_view(state.residual, state.wide, &b->mlp_proj_weight, b->mlp_proj_bias, T, I, C,
               MATMUL_WEIGHT_IN_OUT, true, state.weight_panels);
        status = model_report_tap(params, LOUPE_TAP_AFTER_BLOCK, layer + 1, state.residual, T, C);
    }
    status = model_finish_forward(status, state.residual, T, C, final_residual, error);
    run_state_free(&state);
    return status;
}
