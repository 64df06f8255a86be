/*
 * attention.h - causal multi-head self-attention.
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

/* qkv (T, 3C): per row the queries, keys and values, each C = H x D wide,
 * head h at columns h*D .. h*D+D-1 of its part. out (T, C): the heads'
 * outputs side by side. scores is scratch of attention_scratch_floats(T).
 * Position t attends to positions 0 .. t with weights softmax(q.k * scale). */
void attention_causal(float *out, const float *qkv, float *scores, int T, int C, int H,
                      float scale);

/* The same with plain loops, the oracle for tests. */
void attention_causal_reference(float *out, const float *qkv, int T, int C, int H, float scale);

#endif
