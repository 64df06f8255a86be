/*
 * decoder_backward_reference.h - plain double oracles for the rotary
 * decoder's training kernels (src/train/rms_norm_backward.h,
 * src/train/rope_backward.h), written from the definitions one element at a
 * time. No part of the library.
 *
 * Shapes: N rows, C width, T positions, D head width, R/2 = half rotary pairs.
 */
#ifndef LOUPE_DECODER_BACKWARD_REFERENCE_H
#define LOUPE_DECODER_BACKWARD_REFERENCE_H

/* out (N, C) = x r (offset + w), r = 1 / sqrt(mean(x^2) + eps), in double. */
void rms_norm_forward_reference(double *out, const double *in, const double *weight, double weight_offset, int N,
                                int C, double eps);

/* d_in (N, C) and d_weight (C) SET to the gradient of sum(d_out . out) through
 * the RMSNorm of in (N, C), from the chain rule written out per element:
 * dout_j/dx_i = r (offset + w_j) ([i = j] - x_i x_j r^2 / C). */
void rms_norm_backward_reference(double *d_in, double *d_weight, const double *d_out, const double *in,
                                 const double *weight, double weight_offset, int N, int C, double eps);

/* x (T, n_heads D) rotated in place by the angles t inv_freq[i] (in double,
 * computed here from inv_freq), or by their negatives when inverse: the
 * transpose of the rotation, so the backward pass of the forward one. */
void rope_rotate_reference(double *x, int T, int n_heads, int D, int half, const float *inv_freq, int inverse);

#endif
