/*
 * rope_backward.h - the backward pass of the rotary position embedding of
 * kernels/rope.h. The rotation is orthogonal, so the gradient with respect
 * to its input is the gradient with respect to its output turned back by
 * the same angle: for i < R/2, with c, s the cos and sin of t inv_freq[i],
 *   dx[i] = dy[i] c + dy[i + R/2] s,   dx[i + R/2] = dy[i + R/2] c - dy[i] s,
 * and the dimensions past R (partial rotary) pass through unchanged.
 */
#ifndef LOUPE_TRAIN_ROPE_BACKWARD_H
#define LOUPE_TRAIN_ROPE_BACKWARD_H

/* grad (T, n_heads * D): on entry dL/d(rope_apply(x)), on return dL/dx, in
 * place (every head of row t by the angles of table row t), over the tables
 * cos_table, sin_table (T, half) of rope_tables that the forward pass used.
 * Rows are split among the threads (no reduction). */
void rope_backward(float *grad, int T, int n_heads, int D, int half, const float *cos_table,
                   const float *sin_table);

#endif
