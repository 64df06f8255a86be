/*
 * rope_backward.c - the rotary embedding's backward pass (see rope_backward.h).
 */
#include "train/rope_backward.h"

#include <stddef.h>

#include "kernels/parallel.h"

void rope_backward(float *grad, int T, int n_heads, int D, int half, const float *cos_table,
                   const float *sin_table) {
#pragma omp parallel for schedule(static) if (parallel_worth((size_t)T * n_heads * D))
    for (int t = 0; t < T; t++) {
        const float *c = cos_table + (size_t)t * half, *s = sin_table + (size_t)t * half;
        for (int h = 0; h < n_heads; h++) {
            float *g = grad + ((size_t)t * n_heads + h) * D;
            for (int i = 0; i < half; i++) {
                float first = g[i], second = g[i + half];
                g[i] = first * c[i] + second * s[i];
                g[i + half] = second * c[i] - first * s[i];
            }
        }
    }
}
