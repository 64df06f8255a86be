/*
 * ball_attention.h - causal self-attention on balls: per head the scores
 * q k^T x scale as balls (a double GEMM of the midpoints, one float GEMM
 * of nonnegative operands for the radius, as ball_matmul), the masked
 * softmax as rigorous probability bounds, and the weighted sum of v as a
 * ball product.
 *
 * Softmax bounds per row, scores s_j in [lo_j, hi_j], M the largest hi:
 *     p_j >= e^(lo_j - M) / (e^(lo_j - M) + sum_{k != j} e^(hi_k - M))
 *     p_j <= e^(hi_j - M) / (e^(hi_j - M) + sum_{k != j} e^(lo_k - M))
 * (p_j rises with s_j and falls with every other score), each exponential
 * bounded from libm's exp widened by 8 ulp. docs/CERTIFY.md derives them.
 *
 * Shapes as kernels/attention.h: T tokens, H query heads of width D.
 */
#ifndef LOUPE_INTERVAL_BALL_ATTENTION_H
#define LOUPE_INTERVAL_BALL_ATTENTION_H

#include <stddef.h>

#include "kernels/attention.h"

/* Scratch for ball_attention: one block per OpenMP thread (heads run in
 * parallel). */
typedef struct ball_attention_workspace {
    char *arena;
    size_t per_thread_bytes;
    int n_threads, T, D;
} ball_attention_workspace;

/* Sizes a workspace for T positions and heads of width D; 0 on success,
 * -1 when out of memory. Free with ball_attention_workspace_free. */
int ball_attention_workspace_build(ball_attention_workspace *workspace, int T, int D);
void ball_attention_workspace_free(ball_attention_workspace *workspace);

/* out (T, H D) = per head softmax(q k^T x scale, causal, windowed) v, as
 * balls, from q (T, H D), k and v (T, n_kv_heads D) balls laid out as
 * `shape` (its float scale is ignored). The exact scale is within 2^-50 of
 * `scale` relatively (e.g. 1 / sqrt(D) in double, a few roundings) and positive.
 * shape->T and head_dim within the workspace's. out may not overlap inputs. */
void ball_attention(double *out_mid, float *out_rad, const double *q_mid, const float *q_rad, const double *k_mid,
                    const float *k_rad, const double *v_mid, const float *v_rad, const attention_shape *shape,
                    double scale, ball_attention_workspace *workspace);

#endif
