/*
 * certified_decoder.c - the rotary decoder's forward pass in ball
 * arithmetic, step for step as arch/decoder_forward.c:
 *   sequential: x += o(attention(rope(q), rope(k), v) of norm1(x)); x += mlp(norm2(x))
 *   parallel:   x += o(attention(... norm1(x))) + mlp(norm2(x)), both norms of the same x
 * with mlp = down(act(gate(h)) * up(h)) when gated, else down(act(up(h))).
 */
#include "interval/certified_decoder.h"

#include <math.h>
#include <stdlib.h>

#include "interval/ball.h"
#include "interval/ball_activations.h"
#include "interval/ball_attention.h"
#include "interval/ball_matmul.h"
#include "interval/ball_norms.h"
#include "interval/ball_rope.h"
#include "model/model.h"
#include "util/error.h"

/* One tensor of balls: midpoints and radii of the same shape. */
typedef struct balls {
    double *mid;
    float *rad;
} balls;

/* A = H D, G = KV D. */
typedef struct certified_decoder_state {
    balls residual, normed, branch; /* (T, C) */
    balls q, heads;                 /* (T, A) */
    balls k, v;                     /* (T, G) */
    balls wide;                     /* (T, max(2 I, 3 A)) gate and up, or the fused qkv */
    double *cos_table, *sin_table;  /* (T, R/2) */
    float *inv_freq;                /* (R/2) */
    void *arena;
    ball_matmul_workspace products;
    ball_attention_workspace attention;
} certified_decoder_state;

static void state_free(certified_decoder_state *s) {
    free(s->arena);
    ball_matmul_workspace_free(&s->products);
    ball_attention_workspace_free(&s->attention);
}

static balls carve(double **mids, float **radii, size_t n) {
    balls b = {*mids, *radii};
    *mids += n;
    *radii += n;
    return b;
}

static int state_build(certified_decoder_state *s, const model_description *d, int T) {
    size_t t = (size_t)T, c = (size_t)d->n_embd, a = (size_t)d->n_head * d->head_dim;
    size_t g = (size_t)d->n_kv_head * d->head_dim, half = (size_t)d->rope.rotary_dim / 2;
    size_t wide = 2 * (size_t)d->n_inner > 3 * a ? 2 * (size_t)d->n_inner : 3 * a;
    size_t entries = t * (3 * c + 2 * a + 2 * g + wide);
    size_t inner = c > a ? c : a;
    inner = inner > (size_t)d->n_inner ? inner : (size_t)d->n_inner;
    size_t weight = c * (wide > c ? wide : c);
    *s = (certified_decoder_state){0};
    s->arena = malloc(entries * (sizeof(double) + sizeof(float)) + 2 * t * half * sizeof(double) +
                      half * sizeof(float));
    if (s->arena == NULL || ball_matmul_workspace_build(&s->products, t * inner, t * wide, weight) != 0 ||
        ball_attention_workspace_build(&s->attention, T, d->head_dim) != 0) {
        state_free(s);
        return -1;
    }
    double *mids = s->arena;
    s->cos_table = mids, mids += t * half;
    s->sin_table = mids, mids += t * half;
    float *radii = (float *)(mids + entries);
    s->residual = carve(&mids, &radii, t * c);
    s->normed = carve(&mids, &radii, t * c);
    s->branch = carve(&mids, &radii, t * c);
    s->q = carve(&mids, &radii, t * a);
    s->heads = carve(&mids, &radii, t * a);
    s->k = carve(&mids, &radii, t * g);
    s->v = carve(&mids, &radii, t * g);
    s->wide = carve(&mids, &radii, t * wide);
    s->inv_freq = radii;
    return 0;
}

/* out (T, N) [+]= in (T, K) x weight^T + bias, weight (N, K) as nn.Linear. */
static void product(certified_decoder_state *s, balls out, balls in, const weight_view *weight, const float *bias, int T,
                    int K, int N, double R, bool accumulate) {
    ball_weight prepared;
    ball_weight_prepare_in(&prepared, weight, K, N, MATMUL_WEIGHT_OUT_IN, &s->products);
    ball_matmul(out.mid, out.rad, in.mid, in.rad, &prepared, bias, T, R, accumulate, &s->products);
}

/* out = norm(in) as the description's norm kind. */
static void apply_norm(const model_description *d, balls out, balls in, const float *weight, const float *bias, int N,
                       int C, double R) {
    if (d->norm == NORM_LAYER)
        ball_layer_norm(out.mid, out.rad, in.mid, in.rad, weight, bias, N, C, (float)d->norm_eps, R);
    else
        ball_rms_norm(out.mid, out.rad, in.mid, in.rad, weight, d->norm_weight_offset, N, C, (float)d->norm_eps, R);
}

/* q, k, v of normed for block b; a fused query_key_value is laid out per
 * head as [q_h, k_h, v_h]. */
static void project_qkv(const model_description *d, const decoder_block_weights *b, certified_decoder_state *s, int T,
                        double R) {
    int C = d->n_embd, D = d->head_dim, A = d->n_head * D, G = d->n_kv_head * D;
    if (!d->fused_qkv) {
        product(s, s->q, s->normed, &b->q_weight, b->q_bias, T, C, A, R, false);
        product(s, s->k, s->normed, &b->k_weight, b->k_bias, T, C, G, R, false);
        product(s, s->v, s->normed, &b->v_weight, b->v_bias, T, C, G, R, false);
        return;
    }
    product(s, s->wide, s->normed, &b->qkv_weight, b->qkv_bias, T, C, 3 * A, R, false);
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++)
        for (int h = 0; h < d->n_head; h++) {
            size_t from = (size_t)t * 3 * A + (size_t)h * 3 * D, at = (size_t)t * A + (size_t)h * D;
            for (int i = 0; i < D; i++) {
                s->q.mid[at + i] = s->wide.mid[from + i], s->q.rad[at + i] = s->wide.rad[from + i];
                s->k.mid[at + i] = s->wide.mid[from + D + i], s->k.rad[at + i] = s->wide.rad[from + D + i];
                s->v.mid[at + i] = s->wide.mid[from + 2 * D + i], s->v.rad[at + i] = s->wide.rad[from + 2 * D + i];
            }
        }
}

/* heads <- attention of normed for block b, before o. */
static void attend(const model_description *d, const decoder_block_weights *b, certified_decoder_state *s, int T,
                   double R) {
    int D = d->head_dim, half = d->rope.rotary_dim / 2;
    project_qkv(d, b, s, T, R);
    if (d->qk_norm) {
        ball_rms_norm(s->q.mid, s->q.rad, s->q.mid, s->q.rad, b->q_norm_weight, d->norm_weight_offset,
                      T * d->n_head, D, (float)d->norm_eps, R);
        ball_rms_norm(s->k.mid, s->k.rad, s->k.mid, s->k.rad, b->k_norm_weight, d->norm_weight_offset,
                      T * d->n_kv_head, D, (float)d->norm_eps, R);
    }
    ball_rope_apply(s->q.mid, s->q.rad, T, d->n_head, D, half, s->cos_table, s->sin_table);
    ball_rope_apply(s->k.mid, s->k.rad, T, d->n_kv_head, D, half, s->cos_table, s->sin_table);
    attention_shape shape = {.T = T, .n_heads = d->n_head, .n_kv_heads = d->n_kv_head, .head_dim = D,
                             .q_stride = d->n_head * D, .k_stride = d->n_kv_head * D, .v_stride = d->n_kv_head * D,
                             .out_stride = d->n_head * D, .window = d->sliding_window};
    ball_attention(s->heads.mid, s->heads.rad, s->q.mid, s->q.rad, s->k.mid, s->k.rad, s->v.mid, s->v.rad, &shape,
                   1.0 / sqrt((double)D), &s->attention);
}

/* residual += mlp(normed) for block b. */
static void add_mlp(const model_description *d, const decoder_block_weights *b, certified_decoder_state *s, int T,
                    double R) {
    int C = d->n_embd, I = d->n_inner;
    size_t ti = (size_t)T * I;
    balls up = {s->wide.mid + ti, s->wide.rad + ti};
    product(s, up, s->normed, &b->up_weight, b->up_bias, T, C, I, R, false);
    if (d->gated_mlp) {
        product(s, s->wide, s->normed, &b->gate_weight, b->gate_bias, T, C, I, R, false);
        ball_activation_gated(d->activation, s->wide.mid, s->wide.rad, up.mid, up.rad, ti);
        up = s->wide;
    } else {
        ball_activation(d->activation, up.mid, up.rad, ti);
    }
    product(s, s->residual, up, &b->down_weight, b->down_bias, T, I, C, R, true);
}

static loupe_status report(const certified_forward_params *params, loupe_tap_kind kind, int layer,
                           const certified_decoder_state *s, int T, int C) {
    if (params->tap == NULL) return LOUPE_OK;
    if (kind == LOUPE_TAP_AFTER_ATTENTION && !params->tap_after_attention) return LOUPE_OK;
    return params->tap(params->tap_user, kind, layer, s->residual.mid, s->residual.rad, T, C);
}

/* One block: the attention tap after the attention sub-block, then the MLP. */
static loupe_status run_block(const loupe_model *model, int layer, certified_decoder_state *s, int T,
                              const certified_forward_params *params) {
    const model_description *d = &model->description;
    const decoder_block_weights *b = &model->decoder_blocks[layer];
    int C = d->n_embd, A = d->n_head * d->head_dim;
    double R = params->weight_radius;
    apply_norm(d, s->normed, s->residual, b->attn_norm_weight, b->attn_norm_bias, T, C, R);
    attend(d, b, s, T, R);
    if (d->parallel_residual) {
        product(s, s->branch, s->heads, &b->o_weight, b->o_bias, T, A, C, R, false);
        /* the MLP reads the block's input, so its norm comes before the sum */
        apply_norm(d, s->normed, s->residual, b->mlp_norm_weight, b->mlp_norm_bias, T, C, R);
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < (size_t)T * C; i++) {
            double sum = s->residual.mid[i] + s->branch.mid[i];
            ball_set(sum, (double)s->residual.rad[i] + s->branch.rad[i] + 0x1p-53 * fabs(sum), &s->residual.mid[i],
                     &s->residual.rad[i]);
        }
    } else {
        product(s, s->residual, s->heads, &b->o_weight, b->o_bias, T, A, C, R, true);
    }
    loupe_status status = report(params, LOUPE_TAP_AFTER_ATTENTION, layer + 1, s, T, C);
    if (status != LOUPE_OK) return status;
    if (!d->parallel_residual) apply_norm(d, s->normed, s->residual, b->mlp_norm_weight, b->mlp_norm_bias, T, C, R);
    add_mlp(d, b, s, T, R);
    return report(params, LOUPE_TAP_AFTER_BLOCK, layer + 1, s, T, C);
}

loupe_status certified_decoder_forward(const loupe_model *model, const int32_t *ids, int T,
                                       const certified_forward_params *params, loupe_error *error) {
    const model_description *d = &model->description;
    int C = d->n_embd;
    loupe_status status = model_check_input(model, ids, T, NULL, error);
    if (status != LOUPE_OK) return status;
    certified_decoder_state state;
    if (state_build(&state, d, T) != 0)
        return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for a %d-token certified forward pass", T);
    rope_inverse_frequencies(&d->rope, state.inv_freq);
    ball_rope_tables(state.inv_freq, d->rope.rotary_dim / 2, T, state.cos_table, state.sin_table);
    double R = params->weight_radius;
    float *token = state.normed.rad; /* a row as float32, exactly; free until the first norm */
    for (int t = 0; t < T; t++) {
        weight_view_to_f32(&model->token_embedding, ids[t], 1, 0, C, token, C);
        for (int c = 0; c < C; c++) {
            size_t at = (size_t)t * C + c;
            /* a float times a float is exact in double */
            double value = (double)token[c] * d->embedding_scale;
            ball_set(value, R * fabs(value), &state.residual.mid[at], &state.residual.rad[at]);
        }
    }
    status = report(params, LOUPE_TAP_EMBEDDING, 0, &state, T, C);
    for (int layer = 0; layer < d->n_layer && status == LOUPE_OK; layer++)
        status = run_block(model, layer, &state, T, params);
    if (status != LOUPE_OK && error != NULL && error->status != status)
        error_set(error, status, "the certified forward pass was stopped by its tap (%s)", loupe_status_name(status));
    state_free(&state);
    return status;
}
