/*
 * rms_norm_backward.c - RMSNorm's training forward and backward passes
 * (see rms_norm_backward.h).
 */
#include "train/rms_norm_backward.h"

#include <math.h>
#include <stddef.h>

#include "kernels/parallel.h"

void rms_norm_forward_train(float *out, float *rstd, const float *in, const float *weight, float weight_offset, int N,
                            int C, float eps) {
#pragma omp parallel for schedule(static) if (parallel_worth((size_t)N * C))
    for (int n = 0; n < N; n++) {
        const float *x = in + (size_t)n * C;
        float *y = out + (size_t)n * C;
        /* as kernels/norms.c's rms_norm: the mean square in double, r rounded to float */
        double squares = 0.0;
        for (int c = 0; c < C; c++) squares += (double)x[c] * x[c];
        float inverse_rms = (float)(1.0 / sqrt(squares / C + (double)eps));
        rstd[n] = inverse_rms;
        for (int c = 0; c < C; c++) y[c] = x[c] * inverse_rms * (weight_offset + weight[c]);
    }
}

void rms_norm_backward(float *d_in, float *d_weight, const float *d_out, const float *in, const float *rstd,
                       const float *weight, float weight_offset, int N, int C) {
    int team = parallel_worth((size_t)N * C);
#pragma omp parallel for schedule(static) if (team)
    for (int n = 0; n < N; n++) {
        const float *x = in + (size_t)n * C, *dy = d_out + (size_t)n * C;
        float *dx = d_in + (size_t)n * C;
        float r = rstd[n];
        double dot = 0.0; /* g . x */
        for (int c = 0; c < C; c++) dot += (double)(dy[c] * (weight_offset + weight[c])) * x[c];
        float correction = (float)(dot * (double)r * r * r / C);
        for (int c = 0; c < C; c++) dx[c] += r * dy[c] * (weight_offset + weight[c]) - x[c] * correction;
    }
    if (d_weight == NULL) return;
#pragma omp parallel for schedule(static) if (team)
    for (int c = 0; c < C; c++) {
        double sum = 0.0;
        for (int n = 0; n < N; n++) sum += (double)d_out[(size_t)n * C + c] * (in[(size_t)n * C + c] * rstd[n]);
        d_weight[c] += (float)sum;
    }
}
