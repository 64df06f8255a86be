/*
 * decoder_forward.c - the rotary decoder's forward pass with taps on the
 * residual stream (see decoder.h). Per block, as transformers' decoder
 * layers (pre-norm):
 *   sequential: x += o(attention(rope(q), rope(k), v) of norm1(x)); x += mlp(norm2(x))
 *   parallel:   x += o(attention(... norm1(x))) + mlp(norm2(x)), both norms of the same x
 * with mlp = down(act(gate(h)) * up(h)) when gated, else down(act(up(h))).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arch/decoder.h"
#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/norms.h"
#include "kernels/parallel.h"
#include "kernels/rope.h"
#include "model/model.h"
#include "util/error.h"

/* Working memory for one forward pass, carved from one allocation.
 * A = H D, G = KV D, R/2 rotary frequencies. */
typedef struct decoder_run_state {
    float *residual;  /* (T, C) */
    float *normed;    /* (T, C) */
    float *branch;    /* (T, C) the attention output of a parallel block */
    float *q;         /* (T, A) */
    float *k, *v;     /* (T, G) */
    float *heads;     /* (T, A) the heads' outputs */
    float *wide;      /* (T, max(2 I, 3 A)): gate and up side by side, or the fused qkv */
    float *cos_table, *sin_table; /* (T, R/2) */
    float *inv_freq;  /* (R/2) */
    float *scores;    /* attention scratch */
    float *weight_panels; /* matmul_view's scratch (model_weight_scratch_floats) */
    loupe_kv_cache *cache; /* NULL, or the earlier positions' keys and values, which this pass extends */
    int past;              /* positions before the first of this pass (the cache's length) */
    float *arena;
} decoder_run_state;

/* The rope tables hold past + T positions; the rest is sized for T. */
static int run_state_build(decoder_run_state *state, const model_description *d, int T, loupe_kv_cache *cache) {
    state->cache = cache;
    state->past = cache ? cache->length : 0;
    size_t t = (size_t)T, c = (size_t)d->n_embd, a = (size_t)d->n_head * d->head_dim;
    size_t g = (size_t)d->n_kv_head * d->head_dim, half = (size_t)d->rope.rotary_dim / 2;
    size_t wide = 2 * (size_t)d->n_inner > 3 * a ? 2 * (size_t)d->n_inner : 3 * a;
    size_t positions = t + (size_t)state->past;
    size_t total = t * (3 * c + 2 * a + 2 * g + wide) + positions * 2 * half + half +
                   attention_scratch_floats_past(T, state->past) + model_weight_scratch_floats(d);
    state->arena = malloc(total * sizeof(float));
    if (state->arena == NULL) return -1;
    float *next = state->arena;
    state->residual = next, next += t * c;
    state->normed = next, next += t * c;
    state->branch = next, next += t * c;
    state->q = next, next += t * a;
    state->k = next, next += t * g;
    state->v = next, next += t * g;
    state->heads = next, next += t * a;
    state->wide = next, next += t * wide;
    state->cos_table = next, next += positions * half;
    state->sin_table = next, next += positions * half;
    state->inv_freq = next, next += half;
    state->weight_panels = next, next += model_weight_scratch_floats(d);
    state->scores = next;
    return 0;
}

/* q, k, v of normed (T, C) for block b. A fused query_key_value's rows are
 * laid out per head as [q_h, k_h, v_h] (GPT-NeoX's view(T, H, 3D)). */
static void project_qkv(const model_description *d, const decoder_block_weights *b, decoder_run_state *s,
                        int T) {
    int C = d->n_embd, D = d->head_dim, A = d->n_head * D, G = d->n_kv_head * D;
    if (!d->fused_qkv) {
        matmul_view(s->q, s->normed, &b->q_weight, b->q_bias, T, C, A, MATMUL_WEIGHT_OUT_IN, false, s->weight_panels);
        matmul_view(s->k, s->normed, &b->k_weight, b->k_bias, T, C, G, MATMUL_WEIGHT_OUT_IN, false, s->weight_panels);
        matmul_view(s->v, s->normed, &b->v_weight, b->v_bias, T, C, G, MATMUL_WEIGHT_OUT_IN, false, s->weight_panels);
        return;
    }
    matmul_view(s->wide, s->normed, &b->qkv_weight, b->qkv_bias, T, C, 3 * A, MATMUL_WEIGHT_OUT_IN, false, s->weight_panels);
#pragma omp parallel for schedule(static) if (parallel_worth((size_t)T * 3 * A))
    for (int t = 0; t < T; t++)
        for (int h = 0; h < d->n_head; h++) {
            const float *fused = s->wide + (size_t)t * 3 * A + (size_t)h * 3 * D;
            size_t at = (size_t)t * A + (size_t)h * D;
            for (int i = 0; i < D; i++) {
                s->q[at + i] = fused[i];
                s->k[at + i] = fused[D + i];
                s->v[at + i] = fused[2 * D + i];
            }
        }
}

/* heads (T, A) <- attention of normed (T, C) for block `layer`, before o;
 * with a cache, after the layer's keys and values of the new positions are
 * appended to it, over all of its positions. */
static void attend(const model_description *d, int layer, const decoder_block_weights *b, decoder_run_state *s,
                   int T) {
    int D = d->head_dim, half = d->rope.rotary_dim / 2, G = d->n_kv_head * D;
    project_qkv(d, b, s, T);
    if (d->qk_norm) {
        rms_norm(s->q, s->q, b->q_norm_weight, d->norm_weight_offset, T * d->n_head, D, (float)d->norm_eps);
        rms_norm(s->k, s->k, b->k_norm_weight, d->norm_weight_offset, T * d->n_kv_head, D, (float)d->norm_eps);
    }
    const float *cos_table = s->cos_table + (size_t)s->past * half, *sin_table = s->sin_table + (size_t)s->past * half;
    rope_apply(s->q, T, d->n_head, D, half, cos_table, sin_table);
    rope_apply(s->k, T, d->n_kv_head, D, half, cos_table, sin_table);
    const float *keys = s->k, *values = s->v;
    if (s->cache != NULL) {
        float *cached_keys = kv_cache_keys(s->cache, layer), *cached_values = kv_cache_values(s->cache, layer);
        memcpy(cached_keys + (size_t)s->past * G, s->k, (size_t)T * G * sizeof(float));
        memcpy(cached_values + (size_t)s->past * G, s->v, (size_t)T * G * sizeof(float));
        keys = cached_keys, values = cached_values;
    }
    attention_shape shape = {.T = T, .past = s->past, .n_heads = d->n_head, .n_kv_heads = d->n_kv_head,
                             .head_dim = D, .q_stride = d->n_head * D, .k_stride = G, .v_stride = G,
                             .out_stride = d->n_head * D, .scale = 1.0f / sqrtf((float)D),
                             .window = d->sliding_window};
    attention_grouped(s->heads, s->q, keys, values, s->scores, &shape);
}

/* residual (T, C) += mlp(normed) for block b. */
static void add_mlp(const model_description *d, const decoder_block_weights *b, decoder_run_state *s, int T) {
    int C = d->n_embd, I = d->n_inner;
    float *up = s->wide + (size_t)T * I;
    matmul_view(up, s->normed, &b->up_weight, b->up_bias, T, C, I, MATMUL_WEIGHT_OUT_IN, false, s->weight_panels);
    if (d->gated_mlp) {
        matmul_view(s->wide, s->normed, &b->gate_weight, b->gate_bias, T, C, I, MATMUL_WEIGHT_OUT_IN, false, s->weight_panels);
        activation_gated(d->activation, s->wide, up, (size_t)T * I);
        up = s->wide;
    } else {
        activation_apply(d->activation, up, (size_t)T * I);
    }
    matmul_view(s->residual, up, &b->down_weight, b->down_bias, T, I, C, MATMUL_WEIGHT_OUT_IN, true, s->weight_panels);
}

/* One block: the attention tap after the attention sub-block, then the MLP. */
static loupe_status run_block(const loupe_model *model, int layer, decoder_run_state *s, int T,
                              const loupe_forward_params *params) {
    const model_description *d = &model->description;
    const decoder_block_weights *b = &model->decoder_blocks[layer];
    int C = d->n_embd, A = d->n_head * d->head_dim;
    model_apply_norm(d, s->normed, s->residual, b->attn_norm_weight, b->attn_norm_bias, T, C);
    attend(d, layer, b, s, T);
    if (d->parallel_residual) {
        matmul_view(s->branch, s->heads, &b->o_weight, b->o_bias, T, A, C, MATMUL_WEIGHT_OUT_IN, false, s->weight_panels);
        /* the MLP reads the block's input, so its norm comes before the sum */
        model_apply_norm(d, s->normed, s->residual, b->mlp_norm_weight, b->mlp_norm_bias, T, C);
#pragma omp parallel for schedule(static) if (parallel_worth((size_t)T * C))
        for (size_t i = 0; i < (size_t)T * C; i++) s->residual[i] += s->branch[i];
    } else {
        matmul_view(s->residual, s->heads, &b->o_weight, b->o_bias, T, A, C, MATMUL_WEIGHT_OUT_IN, true, s->weight_panels);
    }
    loupe_status status = model_report_tap(params, LOUPE_TAP_AFTER_ATTENTION, layer + 1, s->residual, T, C);
    if (status != LOUPE_OK) return status;
    if (!d->parallel_residual)
        model_apply_norm(d, s->normed, s->residual, b->mlp_norm_weight, b->mlp_norm_bias, T, C);
    add_mlp(d, b, s, T);
    return model_report_tap(params, LOUPE_TAP_AFTER_BLOCK, layer + 1, s->residual, T, C);
}

loupe_status decoder_forward(const loupe_model *model, const int32_t *ids, int T,
                             const loupe_forward_params *params, loupe_kv_cache *cache, float *final_residual,
                             loupe_error *error) {
    const model_description *d = &model->description;
    int C = d->n_embd;
    loupe_status status = model_check_input(model, ids, T, cache, error);
    if (status != LOUPE_OK) return status;
    decoder_run_state state;
    if (run_state_build(&state, d, T, cache) != 0)
        return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for a %d-token forward pass", T);
    rope_inverse_frequencies(&d->rope, state.inv_freq);
    rope_tables(state.inv_freq, d->rope.rotary_dim / 2, state.past + T, state.cos_table, state.sin_table);
    for (int t = 0; t < T; t++) {
        float *row = state.residual + (size_t)t * C;
        weight_view_to_f32(&model->token_embedding, ids[t], 1, 0, C, row, C);
        for (int c = 0; c < C; c++) row[c] *= d->embedding_scale;
    }
    status = model_report_tap(params, LOUPE_TAP_EMBEDDING, 0, state.residual, T, C);
    for (int layer = 0; layer < d->n_layer && status == LOUPE_OK; layer++)
        status = run_block(model, layer, &state, T, params);
    status = model_finish_forward(status, state.residual, T, C, final_residual, error);
    free(state.arena);
    return status;
}
