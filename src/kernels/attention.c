/*
 * attention.c - causal attention as two GEMMs per head and a masked softmax.
 */
#include "kernels/attention.h"

#include <cblas.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>

/* scores (T, T): row t keeps columns 0..t, softmaxed in place; columns past
 * t become 0 so the second GEMM ignores them. */
static void softmax_causal_rows(float *scores, int T) {
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++) {
        float *row = scores + (size_t)t * T;
        float max = row[0];
        for (int j = 1; j <= t; j++) max = row[j] > max ? row[j] : max;
        double sum = 0.0;
        for (int j = 0; j <= t; j++) {
            row[j] = expf(row[j] - max);
            sum += row[j];
        }
        float inverse = (float)(1.0 / sum);
        for (int j = 0; j <= t; j++) row[j] *= inverse;
        for (int j = t + 1; j < T; j++) row[j] = 0.0f;
    }
}

void attention_causal(float *out, const float *qkv, float *scores, int T, int C, int H,
                      float scale) {
    int D = C / H;
    int stride = 3 * C;
    for (int h = 0; h < H; h++) {
        const float *q = qkv + (size_t)h * D;
        const float *k = qkv + C + (size_t)h * D;
        const float *v = qkv + 2 * (size_t)C + (size_t)h * D;
        /* scores (T, T) = q (T, D) k^T (D, T) * scale */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, D, scale, q, stride, k, stride,
                    0.0f, scores, T);
        softmax_causal_rows(scores, T);
        /* out_h (T, D) = scores (T, T) v (T, D) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, D, T, 1.0f, scores, T, v, stride,
                    0.0f, out + (size_t)h * D, C);
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
