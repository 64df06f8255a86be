/*
 * rms_norm_backward.h - the backward pass of RMSNorm, from the reciprocal
 * root mean square per row that kernels/norms.h's rms_norm_keeping keeps.
 *
 * Per row x (C): r = 1 / sqrt(mean(x^2) + eps), y = x r (offset + w), offset 0
 * for Llama's RMSNorm and 1 for Gemma's (1 + w) form. With g = dy (offset + w):
 *   dx = r g - x r^3 (g . x) / C,   dw += dy x r (summed over rows).
 *
 * Shapes: N rows, C width.
 */
#ifndef LOUPE_TRAIN_RMS_NORM_BACKWARD_H
#define LOUPE_TRAIN_RMS_NORM_BACKWARD_H

/* d_in (N, C) += dy/dx . d_out (N, C) and d_weight (C) += sum_n d_out x r, from
 * the forward pass's in (N, C) and rstd (N). d_weight may be NULL (a frozen
 * weight). Products in float, the row dot (g . x) and the sums over rows in
 * double; d_in's rows and d_weight's columns are split among the threads, so
 * the result does not depend on their count. d_in may not overlap d_out or in. */
void rms_norm_backward(float *d_in, float *d_weight, const float *d_out, const float *in, const float *rstd,
                       const float *weight, float weight_offset, int N, int C);

#endif
