/*
 * rms_norm_backward.c - RMSNorm's backward pass (see rms_norm_backward.h).
 */
#include "train/rms_norm_backward.h"

#include <math.h>
#include <stddef.h>

#include "kernels/parallel.h"

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
