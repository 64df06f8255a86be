/*
 * attention_backward.h - causal grouped-query attention for training: the
 * forward pass saving one log-sum-exp per (head, query), and the backward
 * pass recomputing the probabilities from it, a block of 64 queries at a
 * time through BLAS products, so memory is O(H T) plus a tile of 64 x T
 * scores per thread, never H T T.
 *
 * Shapes as kernels/attention.h's attention_shape (T queries, H query heads
 * of width D, H / n_kv_heads query heads per key/value head, strides in
 * floats, optional window); shape->past must be 0.
 */
#ifndef LOUPE_TRAIN_ATTENTION_BACKWARD_H
#define LOUPE_TRAIN_ATTENTION_BACKWARD_H

#include <stddef.h>

#include "kernels/attention.h"

/* Floats of scratch the two calls need for T positions: per OpenMP thread
 * two tiles of min(T, 64) queries x T keys (128 KB per thread at T = 256). */
size_t attention_train_scratch_floats(int T);

/* out (T, out_stride) head h at columns h D = softmax(q k^T scale, causal,
 * windowed) v per head, from q (T, q_stride), k (T, k_stride), v (T,
 * v_stride); lse (H, T) = log sum_j exp(s_tj), the scores' log-normaliser
 * (max-subtracted). Key/value heads in parallel. */
void attention_forward_train(float *out, float *lse, const float *q, const float *k, const float *v,
                             float *scratch, const attention_shape *shape);

/* From d_out (T, out_stride) and the forward's q, k, v, out and lse:
 * d_q (T, q_stride) += dL/dq, d_k (T, k_stride) += dL/dk, d_v (T, v_stride)
 * += dL/dv, each at its head's columns. d_q, d_k, d_v may be column slices
 * of one buffer (GPT-2's qkv rows). Key/value heads in parallel, each
 * thread writing only its head's columns in a fixed order: the result does
 * not depend on the thread count. */
void attention_backward(float *d_q, float *d_k, float *d_v, const float *d_out, const float *q, const float *k,
                        const float *v, const float *out, const float *lse, float *scratch,
                        const attention_shape *shape);

#endif
