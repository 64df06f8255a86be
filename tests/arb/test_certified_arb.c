/*
 * test_certified_arb.c - the certified forward pass and lens against Arb,
 * the independent oracle: the same GPT-2 or Llama network evaluated in
 * Arb's ball arithmetic at 256 bits (written here from transformers' GPT2
 * and Llama definitions, not from src/interval), and every loupe ball of every tap must contain
 * Arb's ball; so must the lens's logit intervals (every token's for a
 * small vocabulary, else the target's and the input's), and for a small
 * vocabulary the probability, entropy and KL intervals must contain Arb's
 * values and the float32 lens's (within the float32 sums' own rounding).
 * It also reports the
 * tightness per row: loupe's radius against the actual error of the float32
 * forward pass (measured against Arb), as medians over the row.
 *
 * usage: test_certified_arb MODEL_DIR T [WEIGHT_RADIUS]
 */
#include <arb.h>
#include <arb_hypgeom.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interval/ball.h"
#include "interval/certified_forward.h"
#include "interval/certified_lens.h"
#include "loupe.h"
#include "arch/decoder.h"
#include "model/model.h"
#include "test_support.h"

enum { PRECISION = 256, MAX_ROWS = 64 };

/* ------------------------------------------------------------------------
 * The oracle: GPT-2 in Arb
 * ---------------------------------------------------------------------- */

typedef struct oracle {
    const loupe_model *model;
    int T, C, H, I;
    arb_ptr residual;         /* (T, C) */
    arb_ptr taps;             /* (rows, T, C) every tap, in row order */
    int n_taps;
} oracle;

/* w (n) as arbs; caller frees with _arb_vec_clear. */
static arb_ptr arb_vector_of(const float *w, size_t n) {
    arb_ptr v = _arb_vec_init((slong)n);
    for (size_t i = 0; i < n; i++) arb_set_d(v + i, w[i]);
    return v;
}

/* Rows row0 .. row0 + n_rows of a weight matrix as arbs (exact float32
 * values); caller frees with _arb_vec_clear. */
static arb_ptr arb_rows_of(const weight_view *weight, int64_t row0, int64_t n_rows) {
    size_t n = (size_t)(n_rows * weight->columns);
    float *floats = malloc(n * sizeof(float));
    weight_view_to_f32(weight, row0, n_rows, 0, weight->columns, floats, weight->columns);
    arb_ptr v = arb_vector_of(floats, n);
    free(floats);
    return v;
}

/* out (T, N) = in (T, K) x weight (K, N) + bias (N), Conv1D layout. */
static void arb_conv1d(arb_ptr out, arb_srcptr in, const weight_view *weight, const float *bias, int T, int K, int N) {
    arb_ptr w = arb_rows_of(weight, 0, K), b = arb_vector_of(bias, (size_t)N);
    for (int t = 0; t < T; t++)
        for (int n = 0; n < N; n++)
            arb_dot(out + (size_t)t * N + n, b + n, 0, in + (size_t)t * K, 1, w + n, N, K, PRECISION);
    _arb_vec_clear(w, (slong)K * N);
    _arb_vec_clear(b, N);
}

/* out (T, C) = LayerNorm(in) with weight, bias; biased variance, eps. */
static void arb_layer_norm(arb_ptr out, arb_srcptr in, const float *weight, const float *bias, int T, int C,
                           double eps) {
    arb_t mean, var, d, s;
    arb_init(mean), arb_init(var), arb_init(d), arb_init(s);
    for (int t = 0; t < T; t++) {
        arb_srcptr x = in + (size_t)t * C;
        arb_zero(mean);
        for (int c = 0; c < C; c++) arb_add(mean, mean, x + c, PRECISION);
        arb_div_ui(mean, mean, (ulong)C, PRECISION);
        arb_zero(var);
        for (int c = 0; c < C; c++) {
            arb_sub(d, x + c, mean, PRECISION);
            arb_addmul(var, d, d, PRECISION);
        }
        arb_div_ui(var, var, (ulong)C, PRECISION);
        arb_set_d(s, eps);
        arb_add(var, var, s, PRECISION);
        arb_rsqrt(s, var, PRECISION);
        for (int c = 0; c < C; c++) {
            arb_ptr y = out + (size_t)t * C + c;
            arb_sub(y, x + c, mean, PRECISION);
            arb_mul(y, y, s, PRECISION);
            arb_set_d(d, weight[c]);
            arb_mul(y, y, d, PRECISION);
            arb_set_d(d, bias[c]);
            arb_add(y, y, d, PRECISION);
        }
    }
    arb_clear(mean), arb_clear(var), arb_clear(d), arb_clear(s);
}

/* out (T, C) = RMSNorm(in) with weight: x / sqrt(mean(x^2) + eps) w. */
static void arb_rms_norm(arb_ptr out, arb_srcptr in, const float *weight, int T, int C, double eps) {
    arb_t ms, d;
    arb_init(ms), arb_init(d);
    for (int t = 0; t < T; t++) {
        arb_srcptr x = in + (size_t)t * C;
        arb_zero(ms);
        for (int c = 0; c < C; c++) arb_addmul(ms, x + c, x + c, PRECISION);
        arb_div_ui(ms, ms, (ulong)C, PRECISION);
        arb_set_d(d, eps);
        arb_add(ms, ms, d, PRECISION);
        arb_rsqrt(ms, ms, PRECISION);
        for (int c = 0; c < C; c++) {
            arb_ptr y = out + (size_t)t * C + c;
            arb_mul(y, x + c, ms, PRECISION);
            arb_set_d(d, weight[c]);
            arb_mul(y, y, d, PRECISION);
        }
    }
    arb_clear(ms), arb_clear(d);
}

static void arb_activation(arb_ptr x, size_t n, activation_kind kind) {
    arb_t u, k, a, tmp;
    arb_init(u), arb_init(k), arb_init(a), arb_init(tmp);
    arb_const_pi(k, PRECISION);
    arb_ui_div(k, 2, k, PRECISION);
    arb_sqrt(k, k, PRECISION); /* sqrt(2/pi) */
    arb_set_ui(a, 44715);
    arb_div_ui(a, a, 1000000, PRECISION); /* 0.044715 */
    for (size_t i = 0; i < n; i++) {
        arb_ptr v = x + i;
        switch (kind) {
        case ACTIVATION_GELU_TANH: /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
            arb_pow_ui(u, v, 3, PRECISION);
            arb_mul(u, u, a, PRECISION);
            arb_add(u, u, v, PRECISION);
            arb_mul(u, u, k, PRECISION);
            arb_tanh(u, u, PRECISION);
            arb_add_ui(u, u, 1, PRECISION);
            arb_mul(v, v, u, PRECISION);
            arb_mul_2exp_si(v, v, -1);
            break;
        case ACTIVATION_GELU_ERF: /* 0.5 x (1 + erf(x / sqrt 2)) */
            arb_sqrt_ui(tmp, 2, PRECISION);
            arb_div(u, v, tmp, PRECISION);
            arb_hypgeom_erf(u, u, PRECISION);
            arb_add_ui(u, u, 1, PRECISION);
            arb_mul(v, v, u, PRECISION);
            arb_mul_2exp_si(v, v, -1);
            break;
        case ACTIVATION_RELU:
            if (arb_is_nonpositive(v)) arb_zero(v);
            else if (!arb_is_nonnegative(v)) {
                arb_zero(tmp);
                arb_union(v, v, tmp, PRECISION);
            }
            break;
        case ACTIVATION_SILU:
        default: /* x / (1 + e^-x) */
            arb_neg(u, v);
            arb_exp(u, u, PRECISION);
            arb_add_ui(u, u, 1, PRECISION);
            arb_div(v, v, u, PRECISION);
            break;
        }
    }
    arb_clear(u), arb_clear(k), arb_clear(a), arb_clear(tmp);
}

/* heads (T, C) = causal softmax(q k^T scale) v per head, from qkv (T, 3C). */
static void arb_attention(arb_ptr heads, arb_srcptr qkv, int T, int C, int H, const arb_t scale) {
    int D = C / H;
    arb_ptr scores = _arb_vec_init(T);
    arb_t total, p;
    arb_init(total), arb_init(p);
    for (int h = 0; h < H; h++)
        for (int i = 0; i < T; i++) {
            arb_zero(total);
            for (int j = 0; j <= i; j++) {
                arb_dot(scores + j, NULL, 0, qkv + (size_t)i * 3 * C + h * D, 1, qkv + (size_t)j * 3 * C + C + h * D, 1,
                        D, PRECISION);
                arb_mul(scores + j, scores + j, scale, PRECISION);
                arb_exp(scores + j, scores + j, PRECISION);
                arb_add(total, total, scores + j, PRECISION);
            }
            for (int e = 0; e < D; e++) arb_zero(heads + (size_t)i * C + h * D + e);
            for (int j = 0; j <= i; j++) {
                arb_div(p, scores + j, total, PRECISION);
                for (int e = 0; e < D; e++)
                    arb_addmul(heads + (size_t)i * C + h * D + e, p, qkv + (size_t)j * 3 * C + 2 * C + h * D + e,
                               PRECISION);
            }
        }
    _arb_vec_clear(scores, T);
    arb_clear(total), arb_clear(p);
}

/* out (T, N) = in (T, K) x weight^T, nn.Linear layout (N, K), no bias. */
static void arb_linear(arb_ptr out, arb_srcptr in, const weight_view *weight, int T, int K, int N) {
    arb_ptr w = arb_rows_of(weight, 0, N);
    for (int t = 0; t < T; t++)
        for (int n = 0; n < N; n++)
            arb_dot(out + (size_t)t * N + n, NULL, 0, in + (size_t)t * K, 1, w + (size_t)n * K, 1, K, PRECISION);
    _arb_vec_clear(w, (slong)K * N);
}

/* Rotates x (T, heads D) in place, rotate-half: pair (i, i + D/2) at
 * position t by the float32 angle t * inv_freq[i] (the network's
 * definition), cosine and sine in Arb. */
static void arb_rope(arb_ptr x, int T, int heads, int D, const float *inv_freq) {
    arb_t angle, c, s, a, b;
    arb_init(angle), arb_init(c), arb_init(s), arb_init(a), arb_init(b);
    int half = D / 2;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < half; i++) {
            arb_set_d(angle, (double)((float)t * inv_freq[i]));
            arb_sin_cos(s, c, angle, PRECISION);
            for (int h = 0; h < heads; h++) {
                arb_ptr x1 = x + (size_t)t * heads * D + h * D + i, x2 = x1 + half;
                arb_mul(a, x1, c, PRECISION);
                arb_submul(a, x2, s, PRECISION);
                arb_mul(b, x2, c, PRECISION);
                arb_addmul(b, x1, s, PRECISION);
                arb_swap(x1, a);
                arb_swap(x2, b);
            }
        }
    arb_clear(angle), arb_clear(c), arb_clear(s), arb_clear(a), arb_clear(b);
}

/* heads (T, H D) = causal softmax(q k^T / sqrt D) v, head h reading kv
 * head h / (H / KV); q (T, H D), k and v (T, KV D). */
static void arb_grouped_attention(arb_ptr heads, arb_srcptr q, arb_srcptr k, arb_srcptr v, int T, int H, int KV,
                                  int D) {
    arb_ptr scores = _arb_vec_init(T);
    arb_t total, p, scale;
    arb_init(total), arb_init(p), arb_init(scale);
    arb_rsqrt_ui(scale, (ulong)D, PRECISION);
    for (int h = 0; h < H; h++) {
        int g = h / (H / KV);
        for (int i = 0; i < T; i++) {
            arb_zero(total);
            for (int j = 0; j <= i; j++) {
                arb_dot(scores + j, NULL, 0, q + (size_t)i * H * D + h * D, 1, k + (size_t)j * KV * D + g * D, 1, D,
                        PRECISION);
                arb_mul(scores + j, scores + j, scale, PRECISION);
                arb_exp(scores + j, scores + j, PRECISION);
                arb_add(total, total, scores + j, PRECISION);
            }
            for (int e = 0; e < D; e++) arb_zero(heads + (size_t)i * H * D + h * D + e);
            for (int j = 0; j <= i; j++) {
                arb_div(p, scores + j, total, PRECISION);
                for (int e = 0; e < D; e++)
                    arb_addmul(heads + (size_t)i * H * D + h * D + e, p, v + (size_t)j * KV * D + g * D + e, PRECISION);
            }
        }
    }
    _arb_vec_clear(scores, T);
    arb_clear(total), arb_clear(p), arb_clear(scale);
}

static void keep_tap(oracle *o);

/* The Llama forward pass (RMSNorm, rotary grouped-query attention without
 * biases, gated MLP, sequential residual), every tap kept. */
static void oracle_run_llama(oracle *o, const int32_t *ids) {
    const loupe_model *m = o->model;
    const model_description *d = &m->description;
    int T = o->T, C = o->C, I = o->I, H = d->n_head, KV = d->n_kv_head, D = d->head_dim;
    size_t tc = (size_t)T * C;
    double eps = (double)(float)d->norm_eps;
    float *inv_freq = malloc((size_t)(D / 2) * sizeof(float));
    rope_inverse_frequencies(&d->rope, inv_freq);
    arb_ptr normed = _arb_vec_init((slong)tc), branch = _arb_vec_init((slong)tc);
    arb_ptr q = _arb_vec_init((slong)T * H * D), k = _arb_vec_init((slong)T * KV * D);
    arb_ptr v = _arb_vec_init((slong)T * KV * D), heads = _arb_vec_init((slong)T * H * D);
    arb_ptr gate = _arb_vec_init((slong)T * I), up = _arb_vec_init((slong)T * I);
    for (int t = 0; t < T; t++) {
        arb_ptr token = arb_rows_of(&m->token_embedding, ids[t], 1);
        _arb_vec_set(o->residual + (size_t)t * C, token, C);
        _arb_vec_clear(token, C);
    }
    keep_tap(o);
    for (int layer = 0; layer < d->n_layer; layer++) {
        const decoder_block_weights *b = &m->decoder_blocks[layer];
        arb_rms_norm(normed, o->residual, b->attn_norm_weight, T, C, eps);
        arb_linear(q, normed, &b->q_weight, T, C, H * D);
        arb_linear(k, normed, &b->k_weight, T, C, KV * D);
        arb_linear(v, normed, &b->v_weight, T, C, KV * D);
        arb_rope(q, T, H, D, inv_freq);
        arb_rope(k, T, KV, D, inv_freq);
        arb_grouped_attention(heads, q, k, v, T, H, KV, D);
        arb_linear(branch, heads, &b->o_weight, T, H * D, C);
        _arb_vec_add(o->residual, o->residual, branch, (slong)tc, PRECISION);
        keep_tap(o);
        arb_rms_norm(normed, o->residual, b->mlp_norm_weight, T, C, eps);
        arb_linear(gate, normed, &b->gate_weight, T, C, I);
        arb_linear(up, normed, &b->up_weight, T, C, I);
        arb_activation(gate, (size_t)T * I, d->activation);
        for (size_t i = 0; i < (size_t)T * I; i++) arb_mul(gate + i, gate + i, up + i, PRECISION);
        arb_linear(branch, gate, &b->down_weight, T, I, C);
        _arb_vec_add(o->residual, o->residual, branch, (slong)tc, PRECISION);
        keep_tap(o);
    }
    _arb_vec_clear(normed, (slong)tc), _arb_vec_clear(branch, (slong)tc);
    _arb_vec_clear(q, (slong)T * H * D), _arb_vec_clear(k, (slong)T * KV * D);
    _arb_vec_clear(v, (slong)T * KV * D), _arb_vec_clear(heads, (slong)T * H * D);
    _arb_vec_clear(gate, (slong)T * I), _arb_vec_clear(up, (slong)T * I);
    free(inv_freq);
}

static void keep_tap(oracle *o) {
    size_t n = (size_t)o->T * o->C;
    _arb_vec_set(o->taps + (size_t)o->n_taps * n, o->residual, (slong)n);
    o->n_taps++;
}

/* The whole forward pass, every tap (embedding, then per block the
 * attention tap and the block's output) kept in o->taps. */
static void oracle_run(oracle *o, const int32_t *ids) {
    const loupe_model *m = o->model;
    const model_description *d = &m->description;
    int T = o->T, C = o->C, I = o->I, H = o->H;
    size_t tc = (size_t)T * C;
    arb_ptr normed = _arb_vec_init((slong)tc), wide = _arb_vec_init((slong)T * (3 * C > I ? 3 * C : I));
    arb_ptr heads = _arb_vec_init((slong)tc), branch = _arb_vec_init((slong)tc);
    for (int t = 0; t < T; t++) {
        arb_ptr position = arb_rows_of(&m->gpt2.position_embedding, t, 1), token = arb_rows_of(&m->token_embedding, ids[t], 1);
        for (int c = 0; c < C; c++) arb_add(o->residual + (size_t)t * C + c, position + c, token + c, PRECISION);
        _arb_vec_clear(position, C);
        _arb_vec_clear(token, C);
    }
    keep_tap(o);
    double eps = (double)(float)d->norm_eps;
    for (int layer = 0; layer < d->n_layer; layer++) {
        const gpt2_block_weights *b = &m->gpt2.blocks[layer];
        arb_t scale;
        arb_init(scale);
        arb_one(scale);
        if (d->scale_attn_weights) arb_rsqrt_ui(scale, (ulong)(C / H), PRECISION);
        if (d->scale_attn_by_inverse_layer_idx) arb_div_ui(scale, scale, (ulong)(layer + 1), PRECISION);
        arb_layer_norm(normed, o->residual, b->ln_1_weight, b->ln_1_bias, T, C, eps);
        arb_conv1d(wide, normed, &b->attn_qkv_weight, b->attn_qkv_bias, T, C, 3 * C);
        arb_attention(heads, wide, T, C, H, scale);
        arb_conv1d(branch, heads, &b->attn_proj_weight, b->attn_proj_bias, T, C, C);
        _arb_vec_add(o->residual, o->residual, branch, (slong)tc, PRECISION);
        keep_tap(o);
        arb_layer_norm(normed, o->residual, b->ln_2_weight, b->ln_2_bias, T, C, eps);
        arb_conv1d(wide, normed, &b->mlp_fc_weight, b->mlp_fc_bias, T, C, I);
        arb_activation(wide, (size_t)T * I, d->activation);
        arb_conv1d(branch, wide, &b->mlp_proj_weight, b->mlp_proj_bias, T, I, C);
        _arb_vec_add(o->residual, o->residual, branch, (slong)tc, PRECISION);
        keep_tap(o);
        arb_clear(scale);
    }
    _arb_vec_clear(normed, (slong)tc);
    _arb_vec_clear(wide, (slong)T * (3 * C > I ? 3 * C : I));
    _arb_vec_clear(heads, (slong)tc);
    _arb_vec_clear(branch, (slong)tc);
}

/* The final norm of one tap row (C): LayerNorm or RMSNorm. */
static void oracle_final_norm(const oracle *o, arb_ptr normed, arb_srcptr row) {
    const loupe_model *m = o->model;
    double eps = (double)(float)m->description.norm_eps;
    if (m->description.norm == NORM_RMS) arb_rms_norm(normed, row, m->final_norm_weight, 1, o->C, eps);
    else arb_layer_norm(normed, row, m->final_norm_weight, m->final_norm_bias, 1, o->C, eps);
}

/* The lens logit of token id at one tap row (C) in Arb. */
static void oracle_logit(arb_t logit, const oracle *o, arb_srcptr row, int32_t id) {
    const loupe_model *m = o->model;
    arb_ptr normed = _arb_vec_init(o->C);
    oracle_final_norm(o, normed, row);
    arb_ptr w = arb_rows_of(&m->unembedding, id, 1);
    arb_dot(logit, NULL, 0, normed, 1, w, 1, o->C, PRECISION);
    _arb_vec_clear(w, o->C);
    _arb_vec_clear(normed, o->C);
}

/* Every lens logit of one tap row (C) in Arb: logits (V). */
static void oracle_logits(arb_ptr logits, const oracle *o, arb_srcptr row) {
    const loupe_model *m = o->model;
    int V = m->description.n_vocab;
    arb_ptr normed = _arb_vec_init(o->C);
    oracle_final_norm(o, normed, row);
    arb_ptr w = arb_rows_of(&m->unembedding, 0, V);
    for (int j = 0; j < V; j++) arb_dot(logits + j, NULL, 0, normed, 1, w + (size_t)j * o->C, 1, o->C, PRECISION);
    _arb_vec_clear(w, (slong)V * o->C);
    _arb_vec_clear(normed, o->C);
}

/* logits (V) -> their log-softmax in place: l_j - log sum_k e^(l_k). */
static void arb_log_softmax(arb_ptr logits, int V) {
    arb_t sum, e;
    arb_init(sum), arb_init(e);
    arb_zero(sum);
    for (int j = 0; j < V; j++) {
        arb_exp(e, logits + j, PRECISION);
        arb_add(sum, sum, e, PRECISION);
    }
    arb_log(sum, sum, PRECISION);
    for (int j = 0; j < V; j++) arb_sub(logits + j, logits + j, sum, PRECISION);
    arb_clear(sum), arb_clear(e);
}

/* KL(P || Q) = sum_j p_j (log p_j - log q_j) from log-softmaxes (V); the
 * entropy when q is NULL: -sum_j p_j log p_j. KL(P || P) is exactly 0. */
static void arb_divergence(arb_t out, arb_srcptr log_p, arb_srcptr log_q, int V) {
    arb_zero(out);
    if (log_p == log_q) return;
    arb_t p, d;
    arb_init(p), arb_init(d);
    for (int j = 0; j < V; j++) {
        arb_exp(p, log_p + j, PRECISION);
        if (log_q != NULL) arb_sub(d, log_p + j, log_q + j, PRECISION);
        else arb_neg(d, log_p + j);
        arb_addmul(out, p, d, PRECISION);
    }
    arb_clear(p), arb_clear(d);
}

/* ------------------------------------------------------------------------
 * The comparison
 * ---------------------------------------------------------------------- */

/* True when Arb's ball x lies inside [lo, hi] (arfs, exact). */
static bool inside_arf(const arb_t x, const arf_t lo, const arf_t hi) {
    arf_t bound;
    arf_init(bound);
    arb_get_lbound_arf(bound, x, PRECISION);
    bool inside = arf_cmp(bound, lo) >= 0;
    arb_get_ubound_arf(bound, x, PRECISION);
    inside = inside && arf_cmp(bound, hi) <= 0;
    arf_clear(bound);
    return inside;
}

/* True when Arb's ball x lies inside [lo, hi] (floats). */
static bool ball_inside(const arb_t x, float lo, float hi) {
    arf_t a, b;
    arf_init(a), arf_init(b);
    arf_set_d(a, lo);
    arf_set_d(b, hi);
    bool inside = inside_arf(x, a, b);
    arf_clear(a), arf_clear(b);
    return inside;
}

/* True when Arb's ball x lies inside [mid - rad, mid + rad], computed exactly. */
static bool ball_inside_ball(const arb_t x, double mid, float rad) {
    arf_t m, r, lo, hi;
    arf_init(m), arf_init(r), arf_init(lo), arf_init(hi);
    arf_set_d(m, mid);
    arf_set_d(r, rad);
    arf_sub(lo, m, r, ARF_PREC_EXACT, ARF_RND_DOWN);
    arf_add(hi, m, r, ARF_PREC_EXACT, ARF_RND_UP);
    bool inside = inside_arf(x, lo, hi);
    arf_clear(m), arf_clear(r), arf_clear(lo), arf_clear(hi);
    return inside;
}

typedef struct comparison {
    const oracle *o;
    const float *float_taps; /* (rows, T, C) the float32 pass */
    int n, outside;
    double tightness[MAX_ROWS]; /* median of rad / |float32 - exact| per row */
    double relative[MAX_ROWS];  /* median relative radius per row */
    double error[MAX_ROWS];     /* median of |float32 - exact| / |exact| per row */
} comparison;

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static loupe_status compare_tap(void *user, loupe_tap_kind kind, int layer, const double *mid, const float *rad,
                                int T, int C) {
    (void)kind;
    (void)layer;
    comparison *cmp = user;
    size_t n = (size_t)T * C;
    arb_srcptr exact = cmp->o->taps + (size_t)cmp->n * n;
    const float *f32 = cmp->float_taps + (size_t)cmp->n * n;
    double *ratios = malloc(n * sizeof(double)), *relative = malloc(n * sizeof(double));
    double *errors = malloc(n * sizeof(double));
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (!ball_inside_ball(exact + i, mid[i], rad[i])) {
            if (cmp->outside < 5) {
                fprintf(stderr, "tap %d entry %zu: Arb ", cmp->n, i);
                arb_fprintd(stderr, exact + i, 20);
                fprintf(stderr, " not inside %.17g +- %.3g\n", mid[i], rad[i]);
            }
            cmp->outside++;
        }
        double x = arf_get_d(arb_midref(exact + i), ARF_RND_NEAR), e = fabs((double)f32[i] - x);
        if (e > 0.0 && isfinite(rad[i])) {
            relative[kept] = rad[i] / (fabs(mid[i]) + 1e-30);
            errors[kept] = e / (fabs(x) + 1e-30);
            ratios[kept++] = rad[i] / e;
        }
    }
    if (kept > 0 && cmp->n < MAX_ROWS) {
        qsort(ratios, kept, sizeof(double), compare_doubles);
        qsort(relative, kept, sizeof(double), compare_doubles);
        qsort(errors, kept, sizeof(double), compare_doubles);
        cmp->tightness[cmp->n] = ratios[kept / 2];
        cmp->relative[cmp->n] = relative[kept / 2];
        cmp->error[cmp->n] = errors[kept / 2];
    }
    free(ratios);
    free(relative);
    free(errors);
    cmp->n++;
    return LOUPE_OK;
}

typedef struct float_store {
    float *taps;
    int n;
} float_store;

static loupe_status keep_float(void *user, loupe_tap_kind kind, int layer, const float *residual, int T, int C) {
    (void)kind;
    (void)layer;
    float_store *s = user;
    memcpy(s->taps + (size_t)s->n * T * C, residual, (size_t)T * C * sizeof(float));
    s->n++;
    return LOUPE_OK;
}

/* A float32 value x of the plain lens inside [lo, hi] up to the float32
 * computation's own rounding: its sums over V terms err by some sqrt(V)
 * units (2^-24) of their size; slack 1e-5 max(1, |x|). */
static bool float_inside(float x, const float bounds[2]) {
    double slack = 1e-5 * fmax(1.0, fabs(x));
    return x >= bounds[0] - slack && x <= bounds[1] + slack;
}

/* The probability, entropy and KL intervals of every cell against Arb's
 * values and the float32 lens's (small vocabularies: every logit in Arb). */
static void check_divergences(const oracle *o, const certified_lens *lens, const int32_t *ids, int R, int T, int V,
                              const char *name) {
    loupe_lens_params params = loupe_lens_default_params();
    params.subblocks = true;
    loupe_lens_result *plain = NULL;
    loupe_error error;
    CHECK(loupe_lens_run(o->model, ids, T, &params, &plain, &error) == LOUPE_OK);
    arb_ptr log_p = _arb_vec_init((slong)R * V); /* (R, V) one position's log-softmaxes */
    arb_t value;
    arb_init(value);
    int outside = 0, float_outside = 0, known = 0;
    for (int t = 0; t < T; t++) {
        for (int row = 0; row < R; row++) {
            oracle_logits(log_p + (size_t)row * V, o, o->taps + ((size_t)row * T + t) * o->C);
            arb_log_softmax(log_p + (size_t)row * V, V);
        }
        for (int row = 0; row < R; row++) {
            const certified_cell *cell = certified_lens_cell(lens, row, t);
            const loupe_lens_cell *f32 = plain != NULL ? loupe_lens_cell_at(plain, row, t) : NULL;
            arb_srcptr here = log_p + (size_t)row * V, first = log_p, final = log_p + (size_t)(R - 1) * V;
            struct {
                const float *bounds;
                arb_srcptr p, q;
                float f32;
            } checks[] = {
                {cell->entropy, here, NULL, f32 ? f32->entropy : NAN},
                {cell->kl_final, final, here, f32 ? f32->kl_final : NAN},
                {cell->kl_final_rev, here, final, f32 ? f32->kl_final_rev : NAN},
                {cell->kl_first, first, here, f32 ? f32->kl_first : NAN},
                {cell->kl_first_rev, here, first, f32 ? f32->kl_first_rev : NAN},
            };
            for (size_t k = 0; k < sizeof checks / sizeof checks[0]; k++) {
                arb_divergence(value, checks[k].p, checks[k].q, V);
                bool inside = ball_inside(value, checks[k].bounds[0], checks[k].bounds[1]);
                if (!inside && outside < 5) {
                    fprintf(stderr, "row %d position %d quantity %zu: Arb ", row, t, k);
                    arb_fprintd(stderr, value, 12);
                    fprintf(stderr, " not inside [%.9g, %.9g]\n", checks[k].bounds[0], checks[k].bounds[1]);
                }
                outside += !inside;
                float_outside += !float_inside(checks[k].f32, checks[k].bounds);
                known += isfinite(checks[k].bounds[1]) && checks[k].bounds[1] - checks[k].bounds[0] < 1e-2;
            }
            arb_exp(value, here + ids[t], PRECISION);
            outside += !ball_inside(value, cell->input_prob[0], cell->input_prob[1]);
            float_outside += f32 != NULL && !float_inside(f32->input.prob, cell->input_prob);
            if (cell->has_target) {
                arb_exp(value, here + ids[t + 1], PRECISION);
                outside += !ball_inside(value, cell->target_prob[0], cell->target_prob[1]);
                float_outside += f32 != NULL && !float_inside(f32->target.prob, cell->target_prob);
            }
        }
    }
    CHECK_MSG(outside == 0, "%s: %d of Arb's probabilities, entropies and KLs outside loupe's intervals", name,
              outside);
    CHECK_MSG(float_outside == 0, "%s: %d float32 probabilities, entropies and KLs outside loupe's intervals", name,
              float_outside);
    CHECK_MSG(known > 0, "%s: no entropy or KL interval narrower than 0.01", name);
    printf("%s: entropy and KL intervals: %d of %d narrower than 0.01\n", name, known, 5 * R * T);
    arb_clear(value);
    _arb_vec_clear(log_p, (slong)R * V);
    loupe_lens_free(plain);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: test_certified_arb MODEL_DIR T [WEIGHT_RADIUS]\n");
        return 2;
    }
    loupe_model *model = NULL;
    loupe_error error;
    REQUIRE(loupe_model_open(argv[1], &model, &error) == LOUPE_OK);
    const model_description *d = &model->description;
    /* GPT-2, or the Llama shape the Llama oracle writes out */
    REQUIRE(d->family == &GPT2_FAMILY ||
            (d->family == &LLAMA_FAMILY && d->norm == NORM_RMS && d->norm_weight_offset == 0.0f && d->gated_mlp &&
             !d->qkv_bias && !d->output_bias && !d->mlp_bias && !d->qk_norm && !d->fused_qkv &&
             !d->parallel_residual && d->sliding_window == 0 && d->embedding_scale == 1.0f &&
             d->rope.rotary_dim == d->head_dim && d->n_head % d->n_kv_head == 0));
    int T = atoi(argv[2]), R = 1 + 2 * d->n_layer, C = d->n_embd, V = d->n_vocab;
    REQUIRE(T >= 1 && T <= d->n_ctx && R <= MAX_ROWS);
    double weight_radius = argc > 3 ? atof(argv[3]) : 0.0;
    REQUIRE(weight_radius == 0.0); /* Arb evaluates the network as stored */
    int32_t *ids = malloc((size_t)T * sizeof(int32_t));
    /* a fixed, varied text of ids: a full period of a small LCG over the vocabulary */
    for (int t = 0; t < T; t++) ids[t] = (int32_t)(((int64_t)t * 7919 + 13) % V);

    oracle o = {.model = model, .T = T, .C = C, .H = d->n_head, .I = d->n_inner};
    o.residual = _arb_vec_init((slong)T * C);
    o.taps = _arb_vec_init((slong)R * T * C);
    if (d->family == &GPT2_FAMILY) oracle_run(&o, ids);
    else oracle_run_llama(&o, ids);
    REQUIRE(o.n_taps == R);

    float_store floats = {.taps = malloc((size_t)R * T * C * sizeof(float))};
    loupe_forward_params plain = loupe_forward_default_params();
    plain.tap = keep_float;
    plain.tap_user = &floats;
    plain.tap_after_attention = true;
    REQUIRE(loupe_model_forward(model, ids, T, &plain, NULL, &error) == LOUPE_OK);

    comparison cmp = {.o = &o, .float_taps = floats.taps};
    certified_forward_params params = {.tap = compare_tap, .tap_user = &cmp, .tap_after_attention = true};
    CHECK(certified_forward(model, ids, T, &params, &error) == LOUPE_OK);
    CHECK(cmp.n == R);
    CHECK_MSG(cmp.outside == 0, "%s: %d of Arb's tap entries outside loupe's balls", argv[1], cmp.outside);
    printf("%s, T = %d: per row, medians over the row's entries of the relative radius, of radius / |float32 error|\n"
           "and of the float32 pass's relative error |float32 - exact| / |exact| (entries with a finite radius)\n",
           argv[1], T);
    for (int row = 0; row < R; row++)
        printf("  row %2d  %10.3g  %10.3g  %10.3g\n", row, cmp.relative[row], cmp.tightness[row], cmp.error[row]);

    /* the lens: target and input logits (every token's for V <= 1000) */
    certified_lens *lens = NULL;
    CHECK(certified_lens_run(model, ids, T, true, 0.0, NULL, &lens, &error) == LOUPE_OK);
    int lens_outside = 0, top1_wrong = 0, certain = 0;
    arb_t logit, best;
    arb_init(logit), arb_init(best);
    for (int row = 0; lens != NULL && row < R; row++)
        for (int t = 0; t < T; t++) {
            const certified_cell *cell = certified_lens_cell(lens, row, t);
            arb_srcptr tap = o.taps + ((size_t)row * T + t) * C;
            oracle_logit(logit, &o, tap, ids[t]);
            lens_outside += !ball_inside(logit, cell->input_logit[0], cell->input_logit[1]);
            if (cell->has_target) {
                oracle_logit(logit, &o, tap, ids[t + 1]);
                lens_outside += !ball_inside(logit, cell->target_logit[0], cell->target_logit[1]);
            }
            certain += cell->top1_certain;
            if (cell->top1_certain && V <= 1000) {
                /* exact arithmetic has the same top-1: its logit exceeds every other */
                oracle_logit(best, &o, tap, cell->top1);
                for (int32_t j = 0; j < V; j++) {
                    if (j == cell->top1) continue;
                    oracle_logit(logit, &o, tap, j);
                    if (!arb_gt(best, logit)) {
                        top1_wrong++;
                        break;
                    }
                }
            }
        }
    CHECK_MSG(lens_outside == 0, "%s: %d of Arb's lens logits outside loupe's intervals", argv[1], lens_outside);
    if (lens != NULL && V <= 1000) check_divergences(&o, lens, ids, R, T, V, argv[1]);
    CHECK_MSG(top1_wrong == 0, "%s: %d top1_certain cells whose exact top-1 differs", argv[1], top1_wrong);
    printf("%s: %d of %d lens cells top1_certain\n", argv[1], certain, R * T);
    arb_clear(logit), arb_clear(best);

    certified_lens_free(lens);
    _arb_vec_clear(o.residual, (slong)T * C);
    _arb_vec_clear(o.taps, (slong)R * T * C);
    free(floats.taps);
    free(ids);
    loupe_model_close(model);
    return test_finish("test_certified_arb");
}
