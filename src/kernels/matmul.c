/*
 * matmul.c - matmul on OpenBLAS, and its reference twin.
 */
#include "kernels/matmul.h"

#include <cblas.h>
#include <stddef.h>

void matmul(float *out, const float *in, const float *weight, const float *bias, int M, int K,
            int N, matmul_layout layout, bool accumulate) {
    float beta = 0.0f;
    if (bias != NULL) {
        /* Seed every output row with the bias (plus what was there when
         * accumulating) so sgemm adds the product with beta = 1. */
        for (int m = 0; m < M; m++) {
            float *row = out + (size_t)m * N;
            if (accumulate)
                for (int n = 0; n < N; n++) row[n] += bias[n];
            else
                for (int n = 0; n < N; n++) row[n] = bias[n];
        }
        beta = 1.0f;
    } else if (accumulate) {
        beta = 1.0f;
    }
    if (layout == MATMUL_WEIGHT_IN_OUT)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, in, K, weight, N, beta,
                    out, N);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, in, K, weight, K, beta,
                    out, N);
}

int matmul_set_threads(int n_threads) {
    int previous = openblas_get_num_threads();
    openblas_set_num_threads(n_threads > 0 ? n_threads : 1);
    return previous;
}

void matmul_reference(float *out, const float *in, const float *weight, const float *bias, int M,
                      int K, int N, matmul_layout layout, bool accumulate) {
    for (int m = 0; m < M; m++) {
        for (int n = 0; n < N; n++) {
            double sum = bias ? bias[n] : 0.0;
            for (int k = 0; k < K; k++) {
                float w = layout == MATMUL_WEIGHT_IN_OUT ? weight[(size_t)k * N + n]
                                                         : weight[(size_t)n * K + k];
                sum += (double)in[(size_t)m * K + k] * w;
            }
            float *target = &out[(size_t)m * N + n];
            *target = accumulate ? *target + (float)sum : (float)sum;
        }
    }
}
