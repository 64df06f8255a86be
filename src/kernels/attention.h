/*
 * attention.h - causal multi-head self-attention.
 *
 * Shapes: T tokens, H heads of width D. Each head is two products through
 * matmul_strided (scores = q k^T x scale, out = softmax(scores) v) on
 * column slices of q, k and v, with a masked softmax between them.
 */
#ifndef LOUPE_KERNELS_ATTENTION_H
#define LOUPE_KERNELS_ATTENTION_H

#include <stddef.h>

/* Queries are taken in blocks of this many rows, so the scores never need
 * T x T floats (a hostile context length must not exhaust memory). */
enum { ATTENTION_QUERY_BLOCK = 256 };

/* Floats of scratch attention_causal needs for T tokens: one (min(T, block),
 * T) matrix per OpenMP thread (heads run in parallel). */
size_t attention_scratch_floats(int T);

/* out (T, H x D), rows ldo floats apart: the heads' outputs side by side.
 * q, k, v (T, H x D), rows ldq, ldk, ldv floats apart, head h at columns
 * h*D .. h*D+D-1 of each. scores is scratch of attention_scratch_floats(T).
 * Position t of head h attends to positions 0 .. t of that head with
 * weights softmax(q.k x scale). out may not overlap q, k or v. */
void attention_causal_heads(float *out, int ldo, const float *q, int ldq, const float *k, int ldk, const float *v,
                            int ldv, float *scores, int T, int H, int D, float scale);

/* qkv (T, 3C): per row the queries, keys and values, each C = H x D wide,
 * head h at columns h*D .. h*D+D-1 of its part. out (T, C): the heads'
 * outputs side by side. scores is scratch of attention_scratch_floats(T).
 * Position t attends to positions 0 .. t with weights softmax(q.k * scale). */
void attention_causal(float *out, const float *qkv, float *scores, int T, int C, int H,
                      float scale);

/* attention_causal_heads with plain loops in double, the oracle for tests. */
void attention_causal_heads_reference(float *out, int ldo, const float *q, int ldq, const float *k, int ldk,
                                      const float *v, int ldv, int T, int H, int D, float scale);

/* attention_causal through attention_causal_heads_reference. */
void attention_causal_reference(float *out, const float *qkv, int T, int C, int H, float scale);

#endif
