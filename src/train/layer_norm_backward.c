/*
 * layer_norm_backward.c - LayerNorm's backward pass (see layer_norm_backward.h).
 */
#include "train/layer_norm_backward.h"

#include <math.h>
#include <stddef.h>

void layer_norm_backward(float *d_in, float *d_weight, float *d_bias, const float *d_out, const float *in,
                         const float *mean, const float *rstd, const float *weight, int N, int C) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *x = in + (size_t)n * C, *dy = d_out + (size_t)n * C;
        float m = mean[n], r = rstd[n];
        /* dxhat = dy * w; dx = r (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) */
        double sum_dxhat = 0.0, sum_dxhat_xhat = 0.0;
        for (int c = 0; c < C; c++) {
            float xhat = (x[c] - m) * r, dxhat = dy[c] * weight[c];
            sum_dxhat += dxhat;
            sum_dxhat_xhat += (double)dxhat * xhat;
        }
        float mean_dxhat = (float)(sum_dxhat / C), mean_dxhat_xhat = (float)(sum_dxhat_xhat / C);
        float *dx = d_in + (size_t)n * C;
        for (int c = 0; c < C; c++) {
            float xhat = (x[c] - m) * r, dxhat = dy[c] * weight[c];
            dx[c] += r * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat);
        }
    }
    if (d_weight == NULL && d_bias == NULL) return;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        double sum_w = 0.0, sum_b = 0.0;
        for (int n = 0; n < N; n++) {
            float dy = d_out[(size_t)n * C + c];
            sum_w += (double)dy * ((in[(size_t)n * C + c] - mean[n]) * rstd[n]);
            sum_b += dy;
        }
        if (d_weight) d_weight[c] += (float)sum_w;
        if (d_bias) d_bias[c] += (float)sum_b;
    }
}
