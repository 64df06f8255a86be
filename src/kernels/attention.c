/*
 * attention.c - causal attention as two GEMMs per head and a masked softmax.
 */
#include "kernels/attention.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stddef.h>
#include <stdlib.h>

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

void attention_causal(float *out, const float *qkv, float *scores, int T, int C, int H,
                      float scale) {
    int D = C / H;
    size_t stride = 3 * (size_t)C;
    size_t per_thread = attention_scratch_floats(T) / (size_t)omp_get_max_threads();
    /* Heads are independent: one per thread, each with its own scores. */
#pragma omp parallel for schedule(dynamic, 1)
    for (int h = 0; h < H; h++) {
        float *head_scores = scores + (size_t)omp_get_thread_num() * per_thread;
        for (int first = 0; first < T; first += ATTENTION_QUERY_BLOCK) {
            int n = T - first < ATTENTION_QUERY_BLOCK ? T - first : ATTENTION_QUERY_BLOCK;
            int K = first + n; /* keys a block's last query can see */
            const float *q = qkv + (size_t)first * stride + (size_t)h * D;
            const float *k = qkv + C + (size_t)h * D;
            const float *v = qkv + 2 * (size_t)C + (size_t)h * D;
            /* scores (n, K) = q (n, D) k^T (D, K) * scale */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, K, D, scale, q, (int)stride, k,
                        (int)stride, 0.0f, head_scores, K);
            softmax_causal_rows(head_scores, n, K, first);
            /* out rows (n, D) of head h = scores (n, K) v (K, D) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, D, K, 1.0f, head_scores, K, v,
                        (int)stride, 0.0f, out + (size_t)first * C + (size_t)h * D, C);
        }
    }
}

void attention_causal_reference(float *out, const float *qkv, int T, int C, int H, float scale) {
    int D = C / H;
    double *weights = malloc((size_t)T * sizeof *weights);
    if (weights == NULL) return;
    for (int h = 0; h < H; h++) {
        for (int t = 0; t < T; t++) {
            const float *q = qkv + (size_t)t * 3 * C + (size_t)h * D;
            double max = -INFINITY;
            for (int j = 0; j <= t; j++) {
                const float *k = qkv + (size_t)j * 3 * C + C + (size_t)h * D;
                double dot = 0.0;
                for (int d = 0; d < D; d++) dot += (double)q[d] * k[d];
                weights[j] = dot * scale;
                if (weights[j] > max) max = weights[j];
            }
            double sum = 0.0;
            for (int j = 0; j <= t; j++) sum += weights[j] = exp(weights[j] - max);
            for (int d = 0; d < D; d++) {
                double acc = 0.0;
                for (int j = 0; j <= t; j++)
                    acc += weights[j] * qkv[(size_t)j * 3 * C + 2 * (size_t)C + (size_t)h * D + d];
                out[(size_t)t * C + (size_t)h * D + d] = (float)(acc / sum);
            }
        }
    }
    free(weights);
}
