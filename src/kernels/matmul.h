/*
 * matmul.h - the one matrix-product interface the model and the lens use.
 *
 * The fast path is BLAS (cblas_sgemm); matmul_reference is its plain twin,
 * kept as the oracle for tests. Swapping kernels later touches only matmul.c.
 */
#ifndef LOUPE_KERNELS_MATMUL_H
#define LOUPE_KERNELS_MATMUL_H

#include <stdbool.h>

typedef enum matmul_layout {
    MATMUL_WEIGHT_IN_OUT, /* weight is (K, N): Hugging Face Conv1D, y = x W */
    MATMUL_WEIGHT_OUT_IN, /* weight is (N, K): nn.Linear and embeddings, y = x W^T */
} matmul_layout;

/* out (M, N) = in (M, K) x weight [+ bias (N)], weight laid out as `layout`.
 * bias may be NULL. When accumulate is true the product is added to out
 * (bias included if given) instead of overwriting it. */
void matmul(float *out, const float *in, const float *weight, const float *bias, int M, int K,
            int N, matmul_layout layout, bool accumulate);

/* out (M, N), rows ldo floats apart, = scale x in (M, K), rows ldi apart,
 * x weight laid out as `layout` with rows ldw apart: (K, N) for
 * MATMUL_WEIGHT_IN_OUT, y = x W, or (N, K) for MATMUL_WEIGHT_OUT_IN,
 * y = x W^T. For products on parts of larger matrices (attention's heads,
 * columns of one row of q, k and v). One BLAS call on the calling thread,
 * for callers that share their work among threads of their own; out is
 * overwritten and may not overlap in or weight. */
void matmul_strided(float *out, int ldo, const float *in, int ldi, const float *weight, int ldw, int M, int K,
                    int N, matmul_layout layout, float scale);

/* Sets the threads BLAS may use inside one matmul call (at least 1) and
 * returns the previous setting. Callers that run matmuls on several threads
 * of their own set 1 for that time, then restore. */
int matmul_set_threads(int n_threads);

/* The same, as three plain loops in double precision accumulation. */
void matmul_reference(float *out, const float *in, const float *weight, const float *bias, int M,
                      int K, int N, matmul_layout layout, bool accumulate);

/* matmul_strided as three plain loops in double precision accumulation. */
void matmul_strided_reference(float *out, int ldo, const float *in, int ldi, const float *weight, int ldw, int M,
                              int K, int N, matmul_layout layout, float scale);

#endif
