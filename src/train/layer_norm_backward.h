/*
 * layer_norm_backward.h - the backward pass of LayerNorm, from each row's
 * mean and reciprocal standard deviation that kernels/norms.h's
 * layer_norm_keeping keeps.
 * Shapes: N rows of width C.
 */
#ifndef LOUPE_TRAIN_LAYER_NORM_BACKWARD_H
#define LOUPE_TRAIN_LAYER_NORM_BACKWARD_H

/* From d_out (N, C) and the forward's in (N, C), mean (N), rstd (N),
 * weight (C): d_in (N, C) += dL/din, d_weight (C) += sum over rows of
 * d_out * xhat, d_bias (C) += sum over rows of d_out (either NULL: not
 * wanted). Rows in parallel for d_in; the column sums in row order, so the
 * result does not depend on the thread count. d_in may not overlap d_out. */
void layer_norm_backward(float *d_in, float *d_weight, float *d_bias, const float *d_out, const float *in,
                         const float *mean, const float *rstd, const float *weight, int N, int C);

#endif
