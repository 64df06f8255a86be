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

/* Sets the threads BLAS may use inside one matmul call (at least 1) and
 * returns the previous setting. Callers that run matmuls on several threads
 * of their own set 1 for that time, then restore. */
int matmul_set_threads(int n_threads);

/* The same, as three plain loops in double precision accumulation. */
void matmul_reference(float *out, const float *in, const float *weight, const float *bias, int M,
                      int K, int N, matmul_layout layout, bool accumulate);

#endif
