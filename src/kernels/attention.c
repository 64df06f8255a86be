/*
 * attention.c - causal attention as two products per head and a masked
 * softmax; GPT-2's multi-head attention is the grouped-query one with as
 * many key/value heads as query heads and no window.
 */
#include "kernels/attention.h"

#include <math.h>
#include <omp.h>
#include <stddef.h>
#include <stdlib.h>

#include "kernels/matmul.h"
#include "kernels/parallel.h"
#include "kernels/vector_exp.h"

/* The first key position query position t sees. */
static int first_visible(int t, int window) {
    return window > 0 && t - window + 1 > 0 ? t - window + 1 : 0;
}

/* scores (n, K): row i is query position first + i and keeps columns
 * first_visible .. first + i, softmaxed in place; the other columns become 0
 * so the second GEMM ignores them. The exps run through vector_exp over each
 * row's live columns. */
static void softmax_causal_rows(float *scores, int n, int K, int first, int window) {
#pragma omp parallel for schedule(static) if (parallel_worth((size_t)n * K))
    for (int i = 0; i < n; i++) {
        float *row = scores + (size_t)i * K;
        int last = first + i, lo = first_visible(last, window);
        /* The reductions may run in any order (omp simd): the maximum is
         * the same either way, and the sum in double differs by rounding. */
        float max = row[lo];
#pragma omp simd reduction(max : max)
        for (int j = lo + 1; j <= last; j++) max = row[j] > max ? row[j] : max;
        for (int j = lo; j <= last; j++) row[j] -= max;
        vector_exp(row + lo, row + lo, (size_t)(last - lo) + 1);
        double sum = 0.0;
#pragma omp simd reduction(+ : sum)
        for (int j = lo; j <= last; j++) sum += row[j];
        float inverse = (float)(1.0 / sum);
        for (int j = lo; j <= last; j++) row[j] *= inverse;
        for (int j = 0; j < lo; j++) row[j] = 0.0f;
        for (int j = last + 1; j < K; j++) row[j] = 0.0f;
    }
}

size_t attention_scratch_floats_past(int T, int past) {
    size_t rows = T < ATTENTION_QUERY_BLOCK ? (size_t)T : ATTENTION_QUERY_BLOCK;
    return (size_t)omp_get_max_threads() * rows * ((size_t)past + (size_t)T);
}

size_t attention_scratch_floats(int T) { return attention_scratch_floats_past(T, 0); }

/* One head: out (T, D), rows ldo apart, from q (T, D) and k, v (past + T,
 * D), rows ldq, ldk, ldv apart, through head_scores (min(T, block),
 * past + T), a query block at a time. */
static void attention_head(float *out, int ldo, const float *q, int ldq, const float *k, int ldk, const float *v,
                           int ldv, float *head_scores, int T, int past, int D, float scale, int window) {
    for (int first = 0; first < T; first += ATTENTION_QUERY_BLOCK) {
        int n = T - first < ATTENTION_QUERY_BLOCK ? T - first : ATTENTION_QUERY_BLOCK;
        int K = past + first + n; /* keys a block's last query can see */
        /* scores (n, K) = q (n, D) k^T (D, K) * scale */
        matmul_strided(head_scores, K, q + (size_t)first * ldq, ldq, k, ldk, n, D, K, MATMUL_WEIGHT_OUT_IN, scale);
        softmax_causal_rows(head_scores, n, K, past + first, window);
        /* out rows (n, D) = scores (n, K) v (K, D) */
        matmul_strided(out + (size_t)first * ldo, ldo, head_scores, K, v, ldv, n, K, D, MATMUL_WEIGHT_IN_OUT, 1.0f);
    }
}

void attention_grouped(float *out, const float *q, const float *k, const float *v, float *scores,
                       const attention_shape *shape) {
    int D = shape->head_dim, group = shape->n_heads / shape->n_kv_heads;
    size_t per_thread = attention_scratch_floats_past(shape->T, shape->past) / (size_t)omp_get_max_threads();
    /* Heads are independent: one per thread, each with its own scores. */
#pragma omp parallel for schedule(dynamic, 1) \
    if (parallel_worth_products((size_t)shape->n_heads * shape->T * ((size_t)shape->past + shape->T) * D))
    for (int h = 0; h < shape->n_heads; h++) {
        const size_t column = (size_t)h * D, kv_column = (size_t)(h / group) * D;
        attention_head(out + column, shape->out_stride, q + column, shape->q_stride, k + kv_column, shape->k_stride,
                       v + kv_column, shape->v_stride, scores + (size_t)omp_get_thread_num() * per_thread, shape->T,
                       shape->past, D, shape->scale, shape->window);
    }
}

/* H heads, each its own key/value head, with the given row strides. */
static attention_shape multi_head_shape(int ldo, int ldq, int ldk, int ldv, int T, int H, int D, float scale) {
    attention_shape shape = {.T = T, .n_heads = H, .n_kv_heads = H, .head_dim = D, .q_stride = ldq,
                             .k_stride = ldk, .v_stride = ldv, .out_stride = ldo, .scale = scale, .window = 0};
    return shape;
}

void attention_causal_heads(float *out, int ldo, const float *q, int ldq, const float *k, int ldk, const float *v,
                            int ldv, float *scores, int T, int H, int D, float scale) {
    attention_shape shape = multi_head_shape(ldo, ldq, ldk, ldv, T, H, D, scale);
    attention_grouped(out, q, k, v, scores, &shape);
}

void attention_causal(float *out, const float *qkv, float *scores, int T, int C, int H, float scale) {
    const int stride = 3 * C;
    attention_causal_heads(out, C, qkv, stride, qkv + C, stride, qkv + 2 * (size_t)C, stride, scores, T, H, C / H,
                           scale);
}

void attention_grouped_reference(float *out, const float *q, const float *k, const float *v,
                                 const attention_shape *shape) {
    int T = shape->T, past = shape->past, D = shape->head_dim, group = shape->n_heads / shape->n_kv_heads;
    double *weights = malloc(((size_t)past + T) * sizeof *weights);
    if (weights == NULL) return;
    for (int h = 0; h < shape->n_heads; h++) {
        const size_t column = (size_t)h * D, kv_column = (size_t)(h / group) * D;
        for (int query_index = 0; query_index < T; query_index++) {
            const float *query = q + (size_t)query_index * shape->q_stride + column;
            int t = past + query_index, lo = first_visible(t, shape->window);
            double max = -INFINITY;
            for (int j = lo; j <= t; j++) {
                const float *key = k + (size_t)j * shape->k_stride + kv_column;
                double dot = 0.0;
                for (int d = 0; d < D; d++) dot += (double)query[d] * key[d];
                weights[j] = dot * shape->scale;
                if (weights[j] > max) max = weights[j];
            }
            double sum = 0.0;
            for (int j = lo; j <= t; j++) sum += weights[j] = exp(weights[j] - max);
            for (int d = 0; d < D; d++) {
                double acc = 0.0;
                for (int j = lo; j <= t; j++) acc += weights[j] * v[(size_t)j * shape->v_stride + kv_column + d];
                out[(size_t)query_index * shape->out_stride + column + d] = (float)(acc / sum);
            }
        }
    }
    free(weights);
}

void attention_causal_heads_reference(float *out, int ldo, const float *q, int ldq, const float *k, int ldk,
                                      const float *v, int ldv, int T, int H, int D, float scale) {
    attention_shape shape = multi_head_shape(ldo, ldq, ldk, ldv, T, H, D, scale);
    attention_grouped_reference(out, q, k, v, &shape);
}

void attention_causal_reference(float *out, const float *qkv, int T, int C, int H, float scale) {
    const int stride = 3 * C;
    attention_causal_heads_reference(out, C, qkv, stride, qkv + C, stride, qkv + 2 * (size_t)C, stride, T, H, C / H,
                                     scale);
}
