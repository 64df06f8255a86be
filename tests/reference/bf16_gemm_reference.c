/*
 * bf16_gemm_reference.c - see bf16_gemm_reference.h.
 */
#include "bf16_gemm_reference.h"

#include <math.h>
#include <stddef.h>

#include "kernels/bf16_gemm.h"

void bf16_gemm_reference(double *out, double *magnitude, int ldo, const float *rows, int M, const float *weight,
                         int N, int K) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double sum = 0.0, size = 0.0;
            for (int k = 0; k < K; k++) {
                double product = (double)bf16_to_float(bf16_from_float(rows[(size_t)i * K + k])) *
                                 (double)bf16_to_float(bf16_from_float(weight[(size_t)j * K + k]));
                sum += product;
                size += fabs(product);
            }
            out[(size_t)i * ldo + j] = sum;
            if (magnitude != NULL) magnitude[(size_t)i * ldo + j] = size;
        }
}
