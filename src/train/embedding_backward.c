/*
 * embedding_backward.c - scatter-add of the rows' gradients into the
 * embedding tables.
 */
#include "train/embedding_backward.h"

#include <stddef.h>

enum { EMBEDDING_COLUMN_BLOCK = 16 };

void embedding_backward(float *d_token, float *d_position, const float *d_x, const int32_t *ids, int N, int T,
                        int C) {
    int n_blocks = (C + EMBEDDING_COLUMN_BLOCK - 1) / EMBEDDING_COLUMN_BLOCK;
#pragma omp parallel for schedule(static)
    for (int block = 0; block < n_blocks; block++) {
        int c0 = block * EMBEDDING_COLUMN_BLOCK;
        int c1 = c0 + EMBEDDING_COLUMN_BLOCK < C ? c0 + EMBEDDING_COLUMN_BLOCK : C;
        for (int n = 0; n < N; n++) {
            const float *row = d_x + (size_t)n * C;
            if (d_token) {
                float *target = d_token + (size_t)ids[n] * C;
                for (int c = c0; c < c1; c++) target[c] += row[c];
            }
            if (d_position) {
                float *target = d_position + (size_t)(n % T) * C;
                for (int c = c0; c < c1; c++) target[c] += row[c];
            }
        }
    }
}
