/*
 * linear_backward.h - a linear layer for training: out = in W (+ b), the
 * weight in either of matmul.h's layouts, and its backward pass through
 * cblas_sgemm. Shapes: N rows, K inputs, O outputs.
 */
#ifndef LOUPE_TRAIN_LINEAR_BACKWARD_H
#define LOUPE_TRAIN_LINEAR_BACKWARD_H

#include "kernels/matmul.h"

/* out (N, O) = in (N, K) times weight + bias (O, NULL for none); weight is
 * (K, O) for MATMUL_WEIGHT_IN_OUT (GPT-2's Conv1D) or (O, K) for
 * MATMUL_WEIGHT_OUT_IN (nn.Linear). out is overwritten. */
void linear_forward(float *out, const float *in, const float *weight, const float *bias, int N, int K, int O,
                    matmul_layout layout);

/* From d_out (N, O): d_in (N, K) += d_out W^T (NULL: not wanted), d_weight
 * (in weight's layout) += in^T d_out, d_bias (O) += column sums of d_out
 * (NULL: no bias). One BLAS call each (deterministic for a thread count);
 * the bias sums in double, per column in row order. */
void linear_backward(float *d_in, float *d_weight, float *d_bias, const float *d_out, const float *in,
                     const float *weight, int N, int K, int O, matmul_layout layout);

#endif
