/*
 * ball_rope.h - rotary position embeddings on balls (transformers'
 * rotate-half convention, as kernels/rope.h).
 *
 * The angle of pair i at position t is the float32 t * inv_freq[i] that
 * transformers and loupe compute (part of the network's definition, like a
 * weight); its cosine and sine come from libm in double, taken within
 * 2^-51 absolutely (glibc documents cos and sin below 1 ulp, and |cos|,
 * |sin| <= 1), and the rotation
 *     (x1, x2) -> (x1 c - x2 s, x2 c + x1 s)
 * is a ball product. Shapes: T positions, heads of width D, R/2 = half pairs.
 */
#ifndef LOUPE_INTERVAL_BALL_ROPE_H
#define LOUPE_INTERVAL_BALL_ROPE_H

/* The absolute error bound of each table entry. */
#define BALL_ROPE_TABLE_ERROR 0x1p-51

/* cos and sin (T, half) in double of the float angles t * inv_freq[i]. */
void ball_rope_tables(const float *inv_freq, int half, int T, double *cos_table, double *sin_table);

/* Rotates the first 2 half dimensions of every head of the balls x
 * (T, n_heads D) in place, row t by table row t. */
void ball_rope_apply(double *x_mid, float *x_rad, int T, int n_heads, int D, int half, const double *cos_table,
                     const double *sin_table);

#endif
