/*
 * norms.h - layer normalisation and RMS normalisation.
 */
#ifndef LOUPE_KERNELS_NORMS_H
#define LOUPE_KERNELS_NORMS_H

/* out (N, C) = (in - mean) / sqrt(var + eps) * weight + bias, per row, with
 * the biased variance as PyTorch's LayerNorm. out may equal in. */
void layer_norm(float *out, const float *in, const float *weight /* (C) */,
                const float *bias /* (C) */, int N, int C, float eps);

/* layer_norm, also keeping each row's mean and 1 / sqrt(var + eps) as the
 * kernel rounds them to float, in mean (N) and rstd (N) when not NULL: what
 * the backward pass needs (train/layer_norm_backward.h). */
void layer_norm_keeping(float *out, float *mean, float *rstd, const float *in, const float *weight,
                        const float *bias, int N, int C, float eps);

/* out (N, C) = in / sqrt(mean(in^2) + eps) * (weight_offset + weight), per
 * row, the mean square in double. weight_offset is 0 for Llama's RMSNorm and
 * 1 for Gemma's (1 + w) form. out may equal in. */
void rms_norm(float *out, const float *in, const float *weight /* (C) */, float weight_offset, int N,
              int C, float eps);

/* rms_norm, also keeping each row's r = 1 / sqrt(mean(in^2) + eps) as the
 * kernel rounds it to float, in rstd (N) when not NULL (for
 * train/rms_norm_backward.h). */
void rms_norm_keeping(float *out, float *rstd, const float *in, const float *weight, float weight_offset, int N,
                      int C, float eps);

/* The same in double throughout, one row at a time, the oracle for tests. */
void rms_norm_reference(float *out, const float *in, const float *weight, float weight_offset, int N,
                        int C, float eps);

#endif
