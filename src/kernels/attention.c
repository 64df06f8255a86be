/*
 * attention.c - causal attention as two products per head and a masked softmax.
 */
#include "kernels/attention.h"

#include <math.h>
#include <omp.h>
#include <stddef.h>
#include <stdlib.h>

#include "kernels/matmul.h"
#include "kernels/vector_exp.h"

/* scores (n, K): row i is query position first + i and keeps columns
 * 0 .. first + i, softmaxed in place; later columns become 0 so the second
 * GEMM ignores them. The exps run through vector_exp over each row's live
 * columns. */
static void softmax_causal_rows(float *scores, int n, int K, int first) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < n; i++) {
        float *row = scores + (size_t)i * K;
        int last = first + i;
        /* The reductions may run in any order (omp simd): the maximum is
         * the same either way, and the sum in double differs by rounding. */
        float max = row[0];
#pragma omp simd reduction(max : max)
        for (int j = 1; j <= last; j++) max = row[j] > max ? row[j] : max;
        for (int j = 0; j <= last; j++) row[j] -= max;
        vector_exp(row, row, (size_t)last + 1);
        double sum = 0.0;
#pragma omp simd reduction(+ : sum)
        for (int j = 0; j <= last; j++) sum += row[j];
        float inverse = (float)(1.0 / sum);
        for (int j = 0; j <= last; j++) row[j] *= inverse;
        for (int j = last + 1; j < K; j++) row[j] = 0.0f;
    }
}

size_t attention_scratch_floats(int T) {
    size_t rows = T < ATTENTION_QUERY_BLOCK ? (size_t)T : ATTENTION_QUERY_BLOCK;
    return (size_t)omp_get_max_threads() * rows * (size_t)T;
}

/* One head: out (T, D), rows ldo apart, from q, k, v (T, D), rows ldq, ldk,
 * ldv apart, through head_scores (min(T, block), T), a query block at a time. */
static void attention_head(float *out, int ldo, const float *q, int ldq, const float *k, int ldk, const float *v,
                           int ldv, float *head_scores, int T, int D, float scale) {
    for (int first = 0; first < T; first += ATTENTION_QUERY_BLOCK) {
        int n = T - first < ATTENTION_QUERY_BLOCK ? T - first : ATTENTION_QUERY_BLOCK;
        int K = first + n; /* keys a block's last query can see */
        /* scores (n, K) = q (n, D) k^T (D, K) * scale */
        matmul_strided(head_scores, K, q + (size_t)first * ldq, ldq, k, ldk, n, D, K, MATMUL_WEIGHT_OUT_IN, scale);
        softmax_causal_rows(head_scores, n, K, first);
        /* out rows (n, D) = scores (n, K) v (K, D) */
        matmul_strided(out + (size_t)first * ldo, ldo, head_scores, K, v, ldv, n, K, D, MATMUL_WEIGHT_IN_OUT, 1.0f);
    }
}

void attention_causal_heads(float *out, int ldo, const float *q, int ldq, const float *k, int ldk, const float *v,
                            int ldv, float *scores, int T, int H, int D, float scale) {
    size_t per_thread = attention_scratch_floats(T) / (size_t)omp_get_max_threads();
    /* Heads are independent: one per thread, each with its own scores. */
#pragma omp parallel for schedule(dynamic, 1)
    for (int h = 0; h < H; h++) {
        const size_t column = (size_t)h * D;
        attention_head(out + column, ldo, q + column, ldq, k + column, ldk, v + column, ldv,
                       scores + (size_t)omp_get_thread_num() * per_thread, T, D, scale);
    }
}

void attention_causal(float *out, const float *qkv, float *scores, int T, int C, int H, float scale) {
    const int stride = 3 * C;
    attention_causal_heads(out, C, qkv, stride, qkv + C, stride, qkv + 2 * (size_t)C, stride, scores, T, H, C / H,
                           scale);
}

void attention_causal_heads_reference(float *out, int ldo, const float *q, int ldq, const float *k, int ldk,
                                      const float *v, int ldv, int T, int H, int D, float scale) {
    double *weights = malloc((size_t)T * sizeof *weights);
    if (weights == NULL) return;
    for (int h = 0; h < H; h++) {
        const size_t column = (size_t)h * D;
        for (int t = 0; t < T; t++) {
            const float *query = q + (size_t)t * ldq + column;
            double max = -INFINITY;
            for (int j = 0; j <= t; j++) {
                const float *key = k + (size_t)j * ldk + column;
                double dot = 0.0;
                for (int d = 0; d < D; d++) dot += (double)query[d] * key[d];
                weights[j] = dot * scale;
                if (weights[j] > max) max = weights[j];
            }
            double sum = 0.0;
            for (int j = 0; j <= t; j++) sum += weights[j] = exp(weights[j] - max);
            for (int d = 0; d < D; d++) {
                double acc = 0.0;
                for (int j = 0; j <= t; j++) acc += weights[j] * v[(size_t)j * ldv + column + d];
                out[(size_t)t * ldo + column + d] = (float)(acc / sum);
            }
        }
    }
    free(weights);
}

void attention_causal_reference(float *out, const float *qkv, int T, int C, int H, float scale) {
    const int stride = 3 * C;
    attention_causal_heads_reference(out, C, qkv, stride, qkv + C, stride, qkv + 2 * (size_t)C, stride, T, H, C / H,
                                     scale);
}
