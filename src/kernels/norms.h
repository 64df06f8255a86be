/*
 * norms.h - layer normalisation.
 */
#ifndef LOUPE_KERNELS_NORMS_H
#define LOUPE_KERNELS_NORMS_H

/* out (N, C) = (in - mean) / sqrt(var + eps) * weight + bias, per row, with
 * the biased variance as PyTorch's LayerNorm. out may equal in. */
void layer_norm(float *out, const float *in, const float *weight /* (C) */,
                const float *bias /* (C) */, int N, int C, float eps);

#endif
