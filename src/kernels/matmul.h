/*
 * matmul.h - the one matrix-product interface the model and the lens use.
 *
 * The fast path is BLAS (cblas_sgemm); matmul_reference is its plain twin,
 * kept as the oracle for tests. Swapping kernels later touches only matmul.c.
 */
#ifndef LOUPE_KERNELS_MATMUL_H
#define LOUPE_KERNELS_MATMUL_H

#include <stdbool.h>
#include <stddef.h>

#include "kernels/weight_view.h"

typedef enum matmul_layout {
    MATMUL_WEIGHT_IN_OUT, /* weight is (K, N): Hugging Face Conv1D, y = x W */
    MATMUL_WEIGHT_OUT_IN, /* weight is (N, K): nn.Linear and embeddings, y = x W^T */
} matmul_layout;

/* out (M, N) = in (M, K) x weight [+ bias (N)], weight laid out as `layout`.
 * bias may be NULL. When accumulate is true the product is added to out
 * (bias included if given) instead of overwriting it. */
void matmul(float *out, const float *in, const float *weight, const float *bias, int M, int K,
            int N, matmul_layout layout, bool accumulate);

/* matmul with the weight as stored (kernels/weight_view.h): (K, N) for
 * MATMUL_WEIGHT_IN_OUT, (N, K) for MATMUL_WEIGHT_OUT_IN. An F32 weight is
 * read in place; a BF16 or F16 one is converted one panel of output columns
 * at a time (MATMUL_PANEL_COLUMNS, K x that many floats) into the calling
 * thread's part of scratch, and the panel goes through the same BLAS call as
 * matmul's: the result is the same bits as matmul on an F32 copy of the
 * weight. scratch holds matmul_scratch_floats(K) floats per thread that the
 * call may use: omp_get_max_threads() of them, or 1 when called inside a
 * parallel region (the call then runs on the calling thread); NULL is fine
 * for an F32 weight. */
void matmul_view(float *out, const float *in, const weight_view *weight, const float *bias, int M, int K, int N,
                 matmul_layout layout, bool accumulate, float *scratch);

/* Output columns per panel of matmul and matmul_view. */
enum { MATMUL_PANEL_COLUMNS = 128 };

/* Floats of scratch one thread of matmul_view needs for a reduction of K. */
size_t matmul_scratch_floats(int K);

/* out (M, N), rows ldo floats apart, = scale x in (M, K), rows ldi apart,
 * x weight laid out as `layout` with rows ldw apart: (K, N) for
 * MATMUL_WEIGHT_IN_OUT, y = x W, or (N, K) for MATMUL_WEIGHT_OUT_IN,
 * y = x W^T. For products on parts of larger matrices (attention's heads,
 * columns of one row of q, k and v). One BLAS call on the calling thread,
 * for callers that share their work among threads of their own; out is
 * overwritten and may not overlap in or weight. */
void matmul_strided(float *out, int ldo, const float *in, int ldi, const float *weight, int ldw, int M, int K,
                    int N, matmul_layout layout, float scale);

/* The same product added to out: out (M, N) += scale x in x weight, with
 * matmul_strided's layouts, leading dimensions and thread. */
void matmul_strided_add(float *out, int ldo, const float *in, int ldi, const float *weight, int ldw, int M, int K,
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
