/*
 * train_kernels_reference.h - plain double-precision twins of the training
 * kernels (the src/train backward kernels), written from the definitions: each
 * forward pass as loops, each backward pass by the chain rule, the
 * attention with its full probability matrix. The oracles for tests.
 */
#ifndef LOUPE_TEST_TRAIN_KERNELS_REFERENCE_H
#define LOUPE_TEST_TRAIN_KERNELS_REFERENCE_H

#include <stdint.h>

#include "kernels/attention.h"
#include "kernels/matmul.h"

/* out (N, C) = LayerNorm(in) with weight, bias (C). */
void layer_norm_forward_reference(double *out, const double *in, const double *weight, const double *bias, int N,
                                  int C, double eps);
/* d_in (N, C), d_weight, d_bias (C) += the gradients from d_out (N, C). */
void layer_norm_backward_reference(double *d_in, double *d_weight, double *d_bias, const double *d_out,
                                   const double *in, const double *weight, int N, int C, double eps);

/* out (N, O) = in (N, K) W + bias (O, or NULL), W (K, O) or (O, K) by layout. */
void linear_forward_reference(double *out, const double *in, const double *weight, const double *bias, int N, int K,
                              int O, matmul_layout layout);
void linear_backward_reference(double *d_in, double *d_weight, double *d_bias, const double *d_out,
                               const double *in, const double *weight, int N, int K, int O, matmul_layout layout);

/* Causal grouped-query attention on compact q (T, H D), k, v (T, KV D),
 * out (T, H D); shape gives H, KV, D, scale, window (strides unused). */
void attention_forward_reference(double *out, const double *q, const double *k, const double *v,
                                 const attention_shape *shape);
void attention_backward_reference(double *d_q, double *d_k, double *d_v, const double *d_out, const double *q,
                                  const double *k, const double *v, const attention_shape *shape);

#endif
