/*
 * linear_backward.c - the linear layer's forward and backward through BLAS.
 */
#include "train/linear_backward.h"

#include <cblas.h>
#include <stddef.h>

void linear_forward(float *out, const float *in, const float *weight, const float *bias, int N, int K, int O,
                    matmul_layout layout) {
    matmul(out, in, weight, bias, N, K, O, layout, false);
}

void linear_backward(float *d_in, float *d_weight, float *d_bias, const float *d_out, const float *in,
                     const float *weight, int N, int K, int O, matmul_layout layout) {
    if (N == 0) return;
    if (d_in) {
        if (layout == MATMUL_WEIGHT_IN_OUT) /* W (K, O): d_in += d_out W^T */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, K, O, 1.0f, d_out, O, weight, O, 1.0f, d_in, K);
        else /* W (O, K): d_in += d_out W */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, K, O, 1.0f, d_out, O, weight, K, 1.0f, d_in,
                        K);
    }
    if (d_weight) {
        if (layout == MATMUL_WEIGHT_IN_OUT) /* d_W (K, O) += in^T d_out */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, O, N, 1.0f, in, K, d_out, O, 1.0f, d_weight, O);
        else /* d_W (O, K) += d_out^T in */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, O, K, N, 1.0f, d_out, O, in, K, 1.0f, d_weight, K);
    }
    if (d_bias) {
#pragma omp parallel for schedule(static)
        for (int o = 0; o < O; o++) {
            double sum = 0.0;
            for (int n = 0; n < N; n++) sum += d_out[(size_t)n * O + o];
            d_bias[o] += (float)sum;
        }
    }
}
