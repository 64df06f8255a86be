/*
 * softmax.h - numerically safe softmax of one row.
 */
#ifndef LOUPE_KERNELS_SOFTMAX_H
#define LOUPE_KERNELS_SOFTMAX_H

/* probs (n) = softmax(logits (n) / temperature) with a max-subtracted sum in
 * double; temperature > 0. probs may equal logits. */
void softmax_row(const float *logits, float *probs, int n, float temperature);

#endif
