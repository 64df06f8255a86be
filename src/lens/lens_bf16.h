/*
 * lens_bf16.h - what the bf16 lens (loupe_lens_params.precision =
 * LOUPE_PRECISION_BF16) needs beside its kernel (kernels/bf16_gemm.h): the
 * unembedding in BF16, made once per run, and the bound on how far each of
 * a cell's logits can be from the exact float32 lens's (docs/PRECISION.md
 * derives it).
 *
 * Shapes: V vocabulary, K = C width, Kp = K rounded up to a multiple of 32.
 */
#ifndef LOUPE_LENS_LENS_BF16_H
#define LOUPE_LENS_LENS_BF16_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/weight_view.h"

/* The unembedding as the bf16 kernel reads it: a copy in the kernel's
 * panels (from F32, rounded; from BF16, exact (`exact`), and the bound then
 * drops the weights' rounding). This struct and lens_bf16_unembedding_build are the one place
 * that makes the copy: weights kept as BF16 would be used here in place. */
typedef struct lens_bf16_unembedding {
    uint16_t *rows;      /* the unembedding (V, K) in bf16_gemm_pack_panel's panels of 32 rows (Kp
                            wide, the last panel padded with zero rows); 64-byte aligned */
    int V, K;
    double max_row_norm; /* A >= max over v of ||u_v||_2, of the float32 rows (rounded up) */
    bool exact;          /* every entry was a BF16 value already: the copy changed nothing */
} lens_bf16_unembedding;

/* *out <- the BF16 unembedding of unembedding (V, K; F32 in place, BF16 or
 * F16 converted a panel at a time), its largest row norm
 * and whether the rounding was exact, on the threads of the caller's
 * OpenMP team size (the result does not depend on how many). Returns false
 * when memory ran out (*out then holds nothing to free). */
bool lens_bf16_unembedding_build(lens_bf16_unembedding *out, const weight_view *unembedding, int V, int K);

/* Frees what lens_bf16_unembedding_build made; a zeroed struct is a no-op. */
void lens_bf16_unembedding_free(lens_bf16_unembedding *unembedding);

/* An upper bound on ||row||_2 for row (K) of floats (computed in double,
 * then rounded up past its rounding errors). */
double lens_bf16_row_norm(const float *row, int K);

/* The bound beta of a cell whose normed residual has norm at most
 * row_norm (lens_bf16_row_norm): for every v, both
 *   |logit_bf16(v) - logit_f32(v)| <= beta   and   |logit_bf16(v) - u_v . x| <= beta
 * where logit_bf16 is bf16_gemm's, logit_f32 the exact lens's (any float32
 * dot product, in any order, fused or not) and u_v . x the real value. A
 * float rounded up; +inf when some entry or the product of the norms is
 * too large for the derivation (2^100 and beyond). */
float lens_bf16_logit_error_bound(const lens_bf16_unembedding *unembedding, double row_norm);

#endif
