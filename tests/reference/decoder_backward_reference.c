/*
 * decoder_backward_reference.c - the plain double oracles of
 * decoder_backward_reference.h.
 */
#include "decoder_backward_reference.h"

#include <math.h>
#include <stddef.h>

/* The reciprocal root mean square of the row x (C). */
static double row_rstd(const double *x, int C, double eps) {
    double squares = 0.0;
    for (int c = 0; c < C; c++) squares += x[c] * x[c];
    return 1.0 / sqrt(squares / C + eps);
}

void rms_norm_forward_reference(double *out, const double *in, const double *weight, double weight_offset, int N,
                                int C, double eps) {
    for (int n = 0; n < N; n++) {
        const double *x = in + (size_t)n * C;
        double r = row_rstd(x, C, eps);
        for (int c = 0; c < C; c++) out[(size_t)n * C + c] = x[c] * r * (weight_offset + weight[c]);
    }
}

void rms_norm_backward_reference(double *d_in, double *d_weight, const double *d_out, const double *in,
                                 const double *weight, double weight_offset, int N, int C, double eps) {
    for (int c = 0; c < C; c++) d_weight[c] = 0.0;
    for (int n = 0; n < N; n++) {
        const double *x = in + (size_t)n * C, *dy = d_out + (size_t)n * C;
        double r = row_rstd(x, C, eps);
        for (int i = 0; i < C; i++) {
            double sum = 0.0;
            for (int j = 0; j < C; j++) {
                double jacobian = r * (weight_offset + weight[j]) * ((i == j ? 1.0 : 0.0) - x[i] * x[j] * r * r / C);
                sum += dy[j] * jacobian;
            }
            d_in[(size_t)n * C + i] = sum;
            d_weight[i] += dy[i] * x[i] * r;
        }
    }
}

void rope_rotate_reference(double *x, int T, int n_heads, int D, int half, const float *inv_freq, int inverse) {
    for (int t = 0; t < T; t++)
        for (int h = 0; h < n_heads; h++) {
            double *v = x + ((size_t)t * n_heads + h) * D;
            for (int i = 0; i < half; i++) {
                double angle = (double)t * inv_freq[i] * (inverse ? -1.0 : 1.0);
                double first = v[i], second = v[i + half];
                v[i] = first * cos(angle) - second * sin(angle);
                v[i + half] = second * cos(angle) + first * sin(angle);
            }
        }
}
