/*
 * vocab_loss_reference.h - the plain oracle for src/train/vocab_loss.h:
 * each row's logits, softmax and cross-entropy written from the definition,
 * all in double, one row at a time. No part of the library.
 *
 * Shapes: N rows, C width, V vocabulary.
 */
#ifndef LOUPE_VOCAB_LOSS_REFERENCE_H
#define LOUPE_VOCAB_LOSS_REFERENCE_H

#include <stdint.h>

/* The loss sum_n row_weights[n] CE_n of rows normed (N, C) with targets (N)
 * against unembedding (V, C), CE_n = log sum_v e^(z_v) - z_t with z = W x_n
 * and the max subtracted before any exp, all in double. Writes ce (N) when
 * not NULL; d_normed (N, C) SET to w_n dCE_n/dx_n and d_unembedding (V, C)
 * SET to sum_n w_n dCE_n/dW when not NULL. Returns the loss, or NaN when
 * out of memory. */
double vocab_loss_reference(const double *normed, const int32_t *targets, const double *row_weights, int N,
                            const double *unembedding, int V, int C, double *ce, double *d_normed,
                            double *d_unembedding);

#endif
