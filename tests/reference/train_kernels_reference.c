/*
 * train_kernels_reference.c - the double twins of the training kernels.
 */
#include "train_kernels_reference.h"

#include <math.h>
#include <stdlib.h>

void layer_norm_forward_reference(double *out, const double *in, const double *weight, const double *bias, int N,
                                  int C, double eps) {
    for (int n = 0; n < N; n++) {
        const double *x = in + (size_t)n * C;
        double mean = 0.0, var = 0.0;
        for (int c = 0; c < C; c++) mean += x[c] / C;
        for (int c = 0; c < C; c++) var += (x[c] - mean) * (x[c] - mean) / C;
        for (int c = 0; c < C; c++) out[(size_t)n * C + c] = (x[c] - mean) / sqrt(var + eps) * weight[c] + bias[c];
    }
}

/* By the chain rule through xhat = (x - mean) s, s = (var + eps)^-1/2:
 * dx_i = s (g_i - mean(g)) - (x_i - mean) s^3 mean(g (x - mean)), g = dy w. */
void layer_norm_backward_reference(double *d_in, double *d_weight, double *d_bias, const double *d_out,
                                   const double *in, const double *weight, int N, int C, double eps) {
    for (int n = 0; n < N; n++) {
        const double *x = in + (size_t)n * C, *dy = d_out + (size_t)n * C;
        double mean = 0.0, var = 0.0;
        for (int c = 0; c < C; c++) mean += x[c] / C;
        for (int c = 0; c < C; c++) var += (x[c] - mean) * (x[c] - mean) / C;
        double s = 1.0 / sqrt(var + eps), mean_g = 0.0, mean_gx = 0.0;
        for (int c = 0; c < C; c++) {
            mean_g += dy[c] * weight[c] / C;
            mean_gx += dy[c] * weight[c] * (x[c] - mean) / C;
        }
        for (int c = 0; c < C; c++) {
            d_in[(size_t)n * C + c] += s * (dy[c] * weight[c] - mean_g) - (x[c] - mean) * s * s * s * mean_gx;
            d_weight[c] += dy[c] * (x[c] - mean) * s;
            d_bias[c] += dy[c];
        }
    }
}

/* W[k][o] in either layout. */
static double weight_at(const double *weight, int k, int o, int K, int O, matmul_layout layout) {
    return layout == MATMUL_WEIGHT_IN_OUT ? weight[(size_t)k * O + o] : weight[(size_t)o * K + k];
}

void linear_forward_reference(double *out, const double *in, const double *weight, const double *bias, int N, int K,
                              int O, matmul_layout layout) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++) {
            double sum = bias ? bias[o] : 0.0;
            for (int k = 0; k < K; k++) sum += in[(size_t)n * K + k] * weight_at(weight, k, o, K, O, layout);
            out[(size_t)n * O + o] = sum;
        }
}

void linear_backward_reference(double *d_in, double *d_weight, double *d_bias, const double *d_out,
                               const double *in, const double *weight, int N, int K, int O, matmul_layout layout) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++) {
            double g = d_out[(size_t)n * O + o];
            if (d_bias) d_bias[o] += g;
            for (int k = 0; k < K; k++) {
                d_in[(size_t)n * K + k] += g * weight_at(weight, k, o, K, O, layout);
                size_t w = layout == MATMUL_WEIGHT_IN_OUT ? (size_t)k * O + o : (size_t)o * K + k;
                d_weight[w] += g * in[(size_t)n * K + k];
            }
        }
}

/* probabilities (T, T) of head h, 0 outside the causal window. */
static void head_probabilities(double *p, const double *q, const double *k, int h, const attention_shape *shape) {
    int T = shape->T, H = shape->n_heads, KV = shape->n_kv_heads, D = shape->head_dim, kv = h / (H / KV);
    for (int t = 0; t < T; t++) {
        double top = -INFINITY;
        for (int j = 0; j < T; j++) {
            int visible = j <= t && (shape->window <= 0 || j > t - shape->window);
            double s = -INFINITY;
            if (visible) {
                s = 0.0;
                for (int d = 0; d < D; d++) s += q[(size_t)t * H * D + h * D + d] * k[(size_t)j * KV * D + kv * D + d];
                s *= shape->scale;
            }
            p[(size_t)t * T + j] = s;
            if (s > top) top = s;
        }
        double total = 0.0;
        for (int j = 0; j < T; j++) total += p[(size_t)t * T + j] = exp(p[(size_t)t * T + j] - top);
        for (int j = 0; j < T; j++) p[(size_t)t * T + j] /= total;
    }
}

void attention_forward_reference(double *out, const double *q, const double *k, const double *v,
                                 const attention_shape *shape) {
    int T = shape->T, H = shape->n_heads, KV = shape->n_kv_heads, D = shape->head_dim;
    double *p = malloc(sizeof(double) * (size_t)T * T);
    if (p == NULL) abort();
    for (int h = 0; h < H; h++) {
        int kv = h / (H / KV);
        head_probabilities(p, q, k, h, shape);
        for (int t = 0; t < T; t++)
            for (int d = 0; d < D; d++) {
                double sum = 0.0;
                for (int j = 0; j < T; j++) sum += p[(size_t)t * T + j] * v[(size_t)j * KV * D + kv * D + d];
                out[(size_t)t * H * D + h * D + d] = sum;
            }
    }
    free(p);
}

/* dP = dO V^T, dS = P o (dP - rowsum(P o dP)), dQ = dS K scale, dK = dS^T Q scale, dV = P^T dO. */
void attention_backward_reference(double *d_q, double *d_k, double *d_v, const double *d_out, const double *q,
                                  const double *k, const double *v, const attention_shape *shape) {
    int T = shape->T, H = shape->n_heads, KV = shape->n_kv_heads, D = shape->head_dim;
    double *p = malloc(sizeof(double) * (size_t)T * T), *ds = malloc(sizeof(double) * (size_t)T * T);
    if (p == NULL || ds == NULL) abort();
    for (int h = 0; h < H; h++) {
        int kv = h / (H / KV);
        head_probabilities(p, q, k, h, shape);
        for (int t = 0; t < T; t++) {
            double row = 0.0;
            for (int j = 0; j < T; j++) {
                double dp = 0.0;
                for (int d = 0; d < D; d++) dp += d_out[(size_t)t * H * D + h * D + d] * v[(size_t)j * KV * D + kv * D + d];
                ds[(size_t)t * T + j] = dp;
                row += p[(size_t)t * T + j] * dp;
            }
            for (int j = 0; j < T; j++) ds[(size_t)t * T + j] = p[(size_t)t * T + j] * (ds[(size_t)t * T + j] - row);
        }
        for (int t = 0; t < T; t++)
            for (int j = 0; j < T; j++)
                for (int d = 0; d < D; d++) {
                    d_q[(size_t)t * H * D + h * D + d] += ds[(size_t)t * T + j] * k[(size_t)j * KV * D + kv * D + d] * shape->scale;
                    d_k[(size_t)j * KV * D + kv * D + d] += ds[(size_t)t * T + j] * q[(size_t)t * H * D + h * D + d] * shape->scale;
                    d_v[(size_t)j * KV * D + kv * D + d] += p[(size_t)t * T + j] * d_out[(size_t)t * H * D + h * D + d];
                }
    }
    free(p);
    free(ds);
}
