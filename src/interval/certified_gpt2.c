/*
 * certified_gpt2.c - the GPT-2 forward pass in ball arithmetic, step for
 * step as arch/gpt2_forward.c:
 *   residual += c_proj(attention(c_attn(ln_1(residual))))
 *   residual += mlp.c_proj(act(mlp.c_fc(ln_2(residual))))
 */
#include "interval/certified_gpt2.h"

#include <math.h>
#include <stdlib.h>

#include "interval/ball.h"
#include "interval/ball_activations.h"
#include "interval/ball_attention.h"
#include "interval/ball_matmul.h"
#include "interval/ball_norms.h"
#include "model/model.h"
#include "util/error.h"

/* Balls of one forward pass, carved from one allocation; the buffers are
 * shared as in gpt2_forward (the heads' output lands in `normed`). */
typedef struct certified_gpt2_state {
    double *residual_mid, *normed_mid; /* (T, C) */
    double *wide_mid;                  /* (T, max(3C, I)) */
    float *residual_rad, *normed_rad;  /* (T, C) */
    float *wide_rad;                   /* (T, max(3C, I)) */
    void *arena;
    float *measure_scratch; /* (T max(3C, I)) when widths are measured, else NULL */
    ball_matmul_workspace products;
    ball_attention_workspace attention;
} certified_gpt2_state;

static void state_free(certified_gpt2_state *s) {
    free(s->arena);
    free(s->measure_scratch);
    ball_matmul_workspace_free(&s->products);
    ball_attention_workspace_free(&s->attention);
}

static int state_build(certified_gpt2_state *s, int T, int C, int H, int I, bool measure) {
    size_t t = (size_t)T, c = (size_t)C, wide = 3 * c > (size_t)I ? 3 * c : (size_t)I;
    size_t inner = c > (size_t)I ? c : (size_t)I;
    *s = (certified_gpt2_state){0};
    s->arena = malloc((2 * t * c + t * wide) * (sizeof(double) + sizeof(float)));
    if (measure) s->measure_scratch = malloc(t * wide * sizeof(float));
    if (s->arena == NULL || (measure && s->measure_scratch == NULL) || ball_matmul_workspace_build(&s->products, t * inner, t * wide, c * wide) != 0 ||
        ball_attention_workspace_build(&s->attention, T, C / H) != 0) {
        state_free(s);
        return -1;
    }
    double *mids = s->arena;
    s->residual_mid = mids, mids += t * c;
    s->normed_mid = mids, mids += t * c;
    s->wide_mid = mids, mids += t * wide;
    float *radii = (float *)mids;
    s->residual_rad = radii, radii += t * c;
    s->normed_rad = radii, radii += t * c;
    s->wide_rad = radii;
    return 0;
}

/* out (T, N) [+]= in (T, K) x weight (K, N) + bias, weight a Conv1D. */
static void product(certified_gpt2_state *s, double *out_mid, float *out_rad, const double *in_mid,
                    const float *in_rad, const weight_view *weight, const float *bias, int T, int K, int N, double R,
                    bool accumulate) {
    ball_weight prepared;
    ball_weight_prepare_in(&prepared, weight, K, N, MATMUL_WEIGHT_IN_OUT, &s->products);
    ball_matmul(out_mid, out_rad, in_mid, in_rad, &prepared, bias, T, R, accumulate, &s->products);
}

static loupe_status report(const certified_forward_params *params, loupe_tap_kind kind, int layer,
                           const certified_gpt2_state *s, int T, int C) {
    if (params->tap == NULL) return LOUPE_OK;
    if (kind == LOUPE_TAP_AFTER_ATTENTION && !params->tap_after_attention) return LOUPE_OK;
    return params->tap(params->tap_user, kind, layer, s->residual_mid, s->residual_rad, T, C);
}

/* Records the median relative radius of a step's output (n balls). */
static void measure(const certified_forward_params *params, certified_gpt2_state *s, int layer, certified_step step,
                    const double *mid, const float *rad, size_t n) {
    if (params->widths == NULL || layer >= params->widths->n_layer) return;
    double median, max;
    certified_relative_radius(mid, rad, n, s->measure_scratch, &median, &max);
    params->widths->widths[layer][step] = median;
}

/* The embedding: token + position (each widened by R), rounded. */
static void embed(const loupe_model *model, const int32_t *ids, int T, double R, certified_gpt2_state *s) {
    int C = model->description.n_embd;
    /* the rows as float32, exactly, in the radius buffer (free until the first norm) */
    float *token = s->normed_rad, *position = s->normed_rad + C;
    for (int t = 0; t < T; t++) {
        weight_view_to_f32(&model->token_embedding, ids[t], 1, 0, C, token, C);
        weight_view_to_f32(&model->gpt2.position_embedding, t, 1, 0, C, position, C);
        for (int c = 0; c < C; c++) {
            size_t at = (size_t)t * C + c;
            double a = token[c], b = position[c], sum = a + b;
            ball_set(sum, R * (fabs(a) + fabs(b)) + 0x1p-53 * fabs(sum), &s->residual_mid[at], &s->residual_rad[at]);
        }
    }
}

/* residual += c_proj(attention(c_attn(ln_1(residual)))) for block `layer`. */
static void attention_block(const loupe_model *model, int layer, int T, const certified_forward_params *params,
                            certified_gpt2_state *s) {
    const model_description *d = &model->description;
    const gpt2_block_weights *b = &model->gpt2.blocks[layer];
    int C = d->n_embd, H = d->n_head, D = C / H;
    double R = params->weight_radius;
    size_t tc = (size_t)T * C;
    ball_layer_norm(s->normed_mid, s->normed_rad, s->residual_mid, s->residual_rad, b->ln_1_weight, b->ln_1_bias,
                    T, C, (float)d->norm_eps, R);
    measure(params, s, layer, CERTIFIED_STEP_NORM_1, s->normed_mid, s->normed_rad, tc);
    product(s, s->wide_mid, s->wide_rad, s->normed_mid, s->normed_rad, &b->attn_qkv_weight, b->attn_qkv_bias, T, C,
            3 * C, R, false);
    measure(params, s, layer, CERTIFIED_STEP_QKV, s->wide_mid, s->wide_rad, 3 * tc);
    /* the exact scale: 1 / sqrt(D) [/ (layer + 1)], within a few roundings */
    double scale = 1.0;
    if (d->scale_attn_weights) scale /= sqrt((double)D);
    if (d->scale_attn_by_inverse_layer_idx) scale /= (double)(layer + 1);
    attention_shape shape = {.T = T, .n_heads = H, .n_kv_heads = H, .head_dim = D, .q_stride = 3 * C,
                             .k_stride = 3 * C, .v_stride = 3 * C, .out_stride = C, .window = 0};
    ball_attention(s->normed_mid, s->normed_rad, s->wide_mid, s->wide_rad, s->wide_mid + C, s->wide_rad + C,
                   s->wide_mid + 2 * C, s->wide_rad + 2 * C, &shape, scale, &s->attention);
    measure(params, s, layer, CERTIFIED_STEP_ATTENTION, s->normed_mid, s->normed_rad, tc);
    product(s, s->residual_mid, s->residual_rad, s->normed_mid, s->normed_rad, &b->attn_proj_weight,
            b->attn_proj_bias, T, C, C, R, true);
    measure(params, s, layer, CERTIFIED_STEP_RESIDUAL_1, s->residual_mid, s->residual_rad, tc);
}

/* residual += mlp.c_proj(act(mlp.c_fc(ln_2(residual)))) for block `layer`. */
static void mlp_block(const loupe_model *model, int layer, int T, const certified_forward_params *params,
                      certified_gpt2_state *s) {
    const model_description *d = &model->description;
    const gpt2_block_weights *b = &model->gpt2.blocks[layer];
    int C = d->n_embd, I = d->n_inner;
    double R = params->weight_radius;
    size_t tc = (size_t)T * C, ti = (size_t)T * I;
    ball_layer_norm(s->normed_mid, s->normed_rad, s->residual_mid, s->residual_rad, b->ln_2_weight, b->ln_2_bias,
                    T, C, (float)d->norm_eps, R);
    measure(params, s, layer, CERTIFIED_STEP_NORM_2, s->normed_mid, s->normed_rad, tc);
    product(s, s->wide_mid, s->wide_rad, s->normed_mid, s->normed_rad, &b->mlp_fc_weight, b->mlp_fc_bias, T, C, I,
            R, false);
    measure(params, s, layer, CERTIFIED_STEP_UP, s->wide_mid, s->wide_rad, ti);
    ball_activation(d->activation, s->wide_mid, s->wide_rad, ti);
    measure(params, s, layer, CERTIFIED_STEP_ACTIVATION, s->wide_mid, s->wide_rad, ti);
    product(s, s->residual_mid, s->residual_rad, s->wide_mid, s->wide_rad, &b->mlp_proj_weight, b->mlp_proj_bias,
            T, I, C, R, true);
    measure(params, s, layer, CERTIFIED_STEP_RESIDUAL_2, s->residual_mid, s->residual_rad, tc);
}

loupe_status certified_gpt2_forward(const loupe_model *model, const int32_t *ids, int T,
                                    const certified_forward_params *params, loupe_error *error) {
    const model_description *d = &model->description;
    int C = d->n_embd;
    loupe_status status = model_check_input(model, ids, T, NULL, error);
    if (status != LOUPE_OK) return status;
    certified_gpt2_state state;
    if (state_build(&state, T, C, d->n_head, d->n_inner, params->widths != NULL) != 0)
        return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for a %d-token certified forward pass", T);
    embed(model, ids, T, params->weight_radius, &state);
    status = report(params, LOUPE_TAP_EMBEDDING, 0, &state, T, C);
    for (int layer = 0; layer < d->n_layer && status == LOUPE_OK; layer++) {
        attention_block(model, layer, T, params, &state);
        status = report(params, LOUPE_TAP_AFTER_ATTENTION, layer + 1, &state, T, C);
        if (status != LOUPE_OK) break;
        mlp_block(model, layer, T, params, &state);
        status = report(params, LOUPE_TAP_AFTER_BLOCK, layer + 1, &state, T, C);
    }
    if (status != LOUPE_OK && error != NULL && error->status != status)
        error_set(error, status, "the certified forward pass was stopped by its tap (%s)", loupe_status_name(status));
    state_free(&state);
    return status;
}
