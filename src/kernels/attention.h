/*
 * attention.h - causal multi-head self-attention.
 */
#ifndef LOUPE_KERNELS_ATTENTION_H
#define LOUPE_KERNELS_ATTENTION_H

/* qkv (T, 3C): per row the queries, keys and values, each C = H x D wide,
 * head h at columns h*D .. h*D+D-1 of its part. out (T, C): the heads'
 * outputs side by side. scores (T, T) is scratch. Position t attends to
 * positions 0 .. t with weights softmax(q.k * scale). */
void attention_causal(float *out, const float *qkv, float *scores, int T, int C, int H,
                      float scale);

/* The same with plain loops, the oracle for tests. */
void attention_causal_reference(float *out, const float *qkv, int T, int C, int H, float scale);

#endif
