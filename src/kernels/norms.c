/*
 * norms.c - layer and RMS normalisation, one row per thread.
 */
#include "kernels/norms.h"

#include <math.h>
#include <stddef.h>

#include "kernels/parallel.h"

void layer_norm_keeping(float *out, float *mean, float *rstd, const float *in, const float *weight,
                        const float *bias, int N, int C, float eps) {
#pragma omp parallel for schedule(static) if (parallel_worth((size_t)N * C))
    for (int n = 0; n < N; n++) {
        const float *x = in + (size_t)n * C;
        float *y = out + (size_t)n * C;
        /* Two passes in double: the mean first, then the spread around it,
         * avoiding the cancellation of E[x^2] - E[x]^2. */
        double sum = 0.0;
        for (int c = 0; c < C; c++) sum += x[c];
        double row_mean = sum / C;
        double spread = 0.0;
        for (int c = 0; c < C; c++) {
            double d = x[c] - row_mean;
            spread += d * d;
        }
        float inverse_std = (float)(1.0 / sqrt(spread / C + (double)eps));
        float mean_f = (float)row_mean;
        if (mean != NULL) mean[n] = mean_f;
        if (rstd != NULL) rstd[n] = inverse_std;
        for (int c = 0; c < C; c++) y[c] = (x[c] - mean_f) * inverse_std * weight[c] + bias[c];
    }
}

void layer_norm(float *out, const float *in, const float *weight, const float *bias, int N, int C, float eps) {
    layer_norm_keeping(out, NULL, NULL, in, weight, bias, N, C, eps);
}

void rms_norm_keeping(float *out, float *rstd, const float *in, const float *weight, float weight_offset, int N,
                      int C, float eps) {
#pragma omp parallel for schedule(static) if (parallel_worth((size_t)N * C))
    for (int n = 0; n < N; n++) {
        const float *x = in + (size_t)n * C;
        float *y = out + (size_t)n * C;
        double squares = 0.0;
        for (int c = 0; c < C; c++) squares += (double)x[c] * x[c];
        float inverse_rms = (float)(1.0 / sqrt(squares / C + (double)eps));
        if (rstd != NULL) rstd[n] = inverse_rms;
        for (int c = 0; c < C; c++) y[c] = x[c] * inverse_rms * (weight_offset + weight[c]);
    }
}

void rms_norm(float *out, const float *in, const float *weight, float weight_offset, int N, int C, float eps) {
    rms_norm_keeping(out, NULL, in, weight, weight_offset, N, C, eps);
}

void rms_norm_reference(float *out, const float *in, const float *weight, float weight_offset, int N,
                        int C, float eps) {
    for (int n = 0; n < N; n++) {
        const float *x = in + (size_t)n * C;
        double squares = 0.0;
        for (int c = 0; c < C; c++) squares += (double)x[c] * x[c];
        double inverse_rms = 1.0 / sqrt(squares / C + (double)eps);
        for (int c = 0; c < C; c++)
            out[(size_t)n * C + c] = (float)(x[c] * inverse_rms * ((double)weight_offset + weight[c]));
    }
}
