/*
 * ball_attention.c - causal attention on balls (see ball_attention.h).
 */
#include "interval/ball_attention.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "interval/ball.h"

/* One thread's scratch for one head, carved from its block. */
typedef struct head_scratch {
    double *q_mid, *k_mid, *v_mid; /* (T, D) */
    double *score_mid;             /* (T, T) q k^T of the midpoints; later the probabilities' midpoints */
    double *score_hi;              /* (T) one row's upper score bounds */
    double *out_mid;               /* (T, D) */
    float *q_operand;              /* (T, 2D) [|q_mid|, q_rad] */
    float *k_operand;              /* (T, 2D) [k_rad + gamma |k_mid|, |k_mid| + k_rad] */
    float *v_operand;              /* (2T, D) [v_rad + gamma |v_mid|; |v_mid| + v_rad] */
    float *score_rad;              /* (T, T) the radius GEMM of the scores */
    float *p_operand;              /* (T, 2T) [p_mid, p_rad] rounded up */
    float *out_rad;                /* (T, D) */
} head_scratch;

/* One thread's block, rounded up to 64 bytes so that the next thread's
 * block (its doubles first) stays aligned whatever T and D. */
static size_t head_scratch_bytes(size_t T, size_t D) {
    size_t bytes =
        (3 * T * D + T * T + T + T * D) * sizeof(double) + (6 * T * D + T * T + 2 * T * T + T * D) * sizeof(float);
    return (bytes + 63) / 64 * 64;
}

static head_scratch head_scratch_carve(char *block, size_t T, size_t D) {
    head_scratch s;
    double *d = (double *)block;
    s.q_mid = d, d += T * D;
    s.k_mid = d, d += T * D;
    s.v_mid = d, d += T * D;
    s.score_mid = d, d += T * T;
    s.score_hi = d, d += T;
    s.out_mid = d, d += T * D;
    float *f = (float *)d;
    s.q_operand = f, f += 2 * T * D;
    s.k_operand = f, f += 2 * T * D;
    s.v_operand = f, f += 2 * T * D;
    s.score_rad = f, f += T * T;
    s.p_operand = f, f += 2 * T * T;
    s.out_rad = f;
    return s;
}

int ball_attention_workspace_build(ball_attention_workspace *workspace, int T, int D) {
    int threads = omp_get_max_threads();
    size_t bytes = head_scratch_bytes((size_t)T, (size_t)D);
    workspace->arena = malloc(bytes * (size_t)threads);
    if (workspace->arena == NULL) return -1;
    workspace->per_thread_bytes = bytes;
    workspace->n_threads = threads;
    workspace->T = T;
    workspace->D = D;
    return 0;
}

void ball_attention_workspace_free(ball_attention_workspace *workspace) {
    free(workspace->arena);
    workspace->arena = NULL;
}

/* Gathers head h's q, k (of kv head g) and v into the scratch operands. */
static void gather_head(head_scratch *s, const double *q_mid, const float *q_rad, const double *k_mid,
                        const float *k_rad, const double *v_mid, const float *v_rad, const attention_shape *shape,
                        int h, int g) {
    int T = shape->T, D = shape->head_dim;
    double gamma_d = ball_gamma(D, BALL_DOUBLE_UNIT), gamma_t = ball_gamma(T, BALL_DOUBLE_UNIT);
    for (int t = 0; t < T; t++) {
        size_t qa = (size_t)t * shape->q_stride + (size_t)h * D;
        size_t ka = (size_t)t * shape->k_stride + (size_t)g * D;
        size_t va = (size_t)t * shape->v_stride + (size_t)g * D;
        for (int i = 0; i < D; i++) {
            size_t at = (size_t)t * D + i, wide = (size_t)t * 2 * D + i;
            s->q_mid[at] = q_mid[qa + i];
            s->q_operand[wide] = ball_radius_up(fabs(q_mid[qa + i]));
            s->q_operand[wide + D] = q_rad[qa + i];
            double km = fabs(k_mid[ka + i]), kr = k_rad[ka + i];
            s->k_mid[at] = k_mid[ka + i];
            s->k_operand[wide] = ball_radius_up(kr + gamma_d * km);
            s->k_operand[wide + D] = ball_radius_up(km + kr);
            double vm = fabs(v_mid[va + i]), vr = v_rad[va + i];
            s->v_mid[at] = v_mid[va + i];
            s->v_operand[at] = ball_radius_up(vr + gamma_t * vm);
            s->v_operand[(size_t)T * D + at] = ball_radius_up(vm + vr);
        }
    }
}

/* Row i of the probabilities: scores [lo, hi] from the score GEMMs, then
 * the softmax bounds over the visible positions j0 .. i, stored as the
 * midpoints (score_mid's row, doubles) and the operand [p_mid, p_rad]. */
static void probability_row(head_scratch *s, int T, int D, int i, int j0, double scale) {
    double *row_mid = s->score_mid + (size_t)i * T, *row_hi = s->score_hi;
    const float *row_rad = s->score_rad + (size_t)i * T;
    float *operand = s->p_operand + (size_t)i * 2 * T;
    double inflate = 1.0 / (1.0 - ball_gamma(2 * D, BALL_FLOAT_UNIT)), underflow = 2.0 * D * BALL_FLOAT_ETA;
    double s_lo = scale * (1.0 - 0x1p-49), s_hi = scale * (1.0 + 0x1p-49);
    double top = -INFINITY;
    for (int j = j0; j <= i; j++) {
        double dm = row_mid[j], dr = ((double)row_rad[j] + underflow) * inflate;
        double a = dm - dr, b = dm + dr;
        double lo = a * (a >= 0.0 ? s_lo : s_hi), hi = b * (b >= 0.0 ? s_hi : s_lo);
        row_mid[j] = lo - fabs(lo) * 0x1p-51; /* the row now holds the lower bounds */
        row_hi[j] = hi + fabs(hi) * 0x1p-51;
        if (row_hi[j] > top) top = row_hi[j];
    }
    double sum_lo = 0.0, sum_hi = 0.0;
    for (int j = j0; j <= i; j++) {
        sum_lo += ball_exp_lower(row_mid[j], top);
        sum_hi += ball_exp_upper(row_hi[j], top);
    }
    sum_lo = ball_chain_lower(sum_lo, i - j0 + 1);
    sum_hi = ball_chain_upper(sum_hi, i - j0 + 1);
    for (int j = 0; j < T; j++) {
        if (j < j0 || j > i) {
            row_mid[j] = 0.0;
            operand[j] = operand[T + j] = 0.0f;
            continue;
        }
        double p_lo, p_hi;
        ball_probability_bounds(ball_exp_lower(row_mid[j], top), ball_exp_upper(row_hi[j], top), sum_lo, sum_hi,
                                &p_lo, &p_hi);
        double mid = 0.5 * (p_lo + p_hi);
        double rad = fmax(p_hi - mid, mid - p_lo) * (1.0 + 0x1p-51);
        row_mid[j] = mid;
        operand[j] = ball_radius_up(mid);
        operand[T + j] = ball_radius_up(rad);
    }
}

/* One head: scores, probabilities, weighted values, into out. */
static void attend_head(double *out_mid, float *out_rad, head_scratch *s, const attention_shape *shape, int h,
                        double scale) {
    int T = shape->T, D = shape->head_dim;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, D, 1.0, s->q_mid, D, s->k_mid, D, 0.0, s->score_mid,
                T);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, 2 * D, 1.0f, s->q_operand, 2 * D, s->k_operand, 2 * D,
                0.0f, s->score_rad, T);
    for (int i = 0; i < T; i++) {
        int j0 = shape->window > 0 && i - shape->window + 1 > 0 ? i - shape->window + 1 : 0;
        probability_row(s, T, D, i, j0, scale);
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, D, T, 1.0, s->score_mid, T, s->v_mid, D, 0.0,
                s->out_mid, D);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, D, 2 * T, 1.0f, s->p_operand, 2 * T, s->v_operand, D,
                0.0f, s->out_rad, D);
    double inflate = 1.0 / (1.0 - ball_gamma(2 * T, BALL_FLOAT_UNIT)), underflow = 2.0 * T * BALL_FLOAT_ETA;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < D; i++) {
            size_t at = (size_t)t * D + i, to = (size_t)t * shape->out_stride + (size_t)h * D + i;
            ball_set(s->out_mid[at], ((double)s->out_rad[at] + underflow) * inflate, &out_mid[to], &out_rad[to]);
        }
}

void ball_attention(double *out_mid, float *out_rad, const double *q_mid, const float *q_rad, const double *k_mid,
                    const float *k_rad, const double *v_mid, const float *v_rad, const attention_shape *shape,
                    double scale, ball_attention_workspace *workspace) {
    int group = shape->n_heads / shape->n_kv_heads;
#pragma omp parallel for schedule(dynamic, 1) num_threads(workspace->n_threads)
    for (int h = 0; h < shape->n_heads; h++) {
        char *block = workspace->arena + (size_t)omp_get_thread_num() * workspace->per_thread_bytes;
        head_scratch s = head_scratch_carve(block, (size_t)shape->T, (size_t)shape->head_dim);
        gather_head(&s, q_mid, q_rad, k_mid, k_rad, v_mid, v_rad, shape, h, h / group);
        attend_head(out_mid, out_rad, &s, shape, h, scale);
    }
}
