/*
 * embedding_backward.h - the gradient of embedding look-ups: token rows
 * (wte / embed_tokens) and GPT-2's learned position rows (wpe).
 */
#ifndef LOUPE_TRAIN_EMBEDDING_BACKWARD_H
#define LOUPE_TRAIN_EMBEDDING_BACKWARD_H

#include <stdint.h>

/* For x[n] = token[ids[n]] + position[n % T] over N = B T rows: from
 * d_x (N, C), d_token (V, C) += d_x[n] at row ids[n] (ids (N), each in
 * 0 .. V-1, checked by the caller), d_position (T, C) += d_x[n] at row
 * n % T (either NULL: not wanted). Columns in parallel, rows in order
 * within each: the result does not depend on the thread count. */
void embedding_backward(float *d_token, float *d_position, const float *d_x, const int32_t *ids, int N, int T,
                        int C);

#endif
