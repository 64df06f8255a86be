/*
 * attention.h - causal self-attention: multi-head (GPT-2) and grouped-query
 * (any number of key/value heads, an explicit head width, an optional
 * sliding window).
 *
 * Shapes: T tokens, H query heads of width D. Each head is two products
 * through matmul_strided (scores = q k^T x scale, out = softmax(scores) v)
 * on column slices of q, k and v, with a masked softmax between them.
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

/* The same for T queries after `past` cached positions: (min(T, block),
 * past + T) per thread. */
size_t attention_scratch_floats_past(int T, int past);

/* The shape of one grouped-query attention: H query heads share
 * n_kv_heads key/value heads, query head h reading key/value head
 * h / (H / n_kv_heads) (transformers' repeat_kv). Rows of q, k, v and out are
 * q_stride, k_stride, v_stride and out_stride floats apart; head h's D
 * columns start at h * D of its row. With past > 0 the T queries are
 * positions past .. past + T - 1 and k, v hold past + T rows (the earlier
 * positions' keys and values kept by a cache, then the queries' own). */
typedef struct attention_shape {
    int T;           /* query positions */
    int past;        /* positions before the first query (0 without a cache) */
    int n_heads;     /* H, a multiple of n_kv_heads */
    int n_kv_heads;
    int head_dim;    /* D */
    int q_stride, k_stride, v_stride, out_stride;
    float scale;     /* the scores are q.k * scale */
    int window;      /* 0: every earlier position; else position t sees t - window + 1 .. t */
} attention_shape;

/* out (T, H D) = per head softmax(q k^T * scale, causal, windowed) v, from
 * q (T, H D), k and v (past + T, n_kv_heads D). scores is scratch of
 * attention_scratch_floats_past(T, past). out may not overlap q, k or v. */
void attention_grouped(float *out, const float *q, const float *k, const float *v, float *scores,
                       const attention_shape *shape);

/* The same with plain loops in double, the oracle for tests. */
void attention_grouped_reference(float *out, const float *q, const float *k, const float *v,
                                 const attention_shape *shape);

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

/* attention_causal_heads through attention_grouped_reference. */
void attention_causal_heads_reference(float *out, int ldo, const float *q, int ldq, const float *k, int ldk,
                                      const float *v, int ldv, int T, int H, int D, float scale);

/* attention_causal through attention_causal_heads_reference. */
void attention_causal_reference(float *out, const float *qkv, int T, int C, int H, float scale);

#endif
