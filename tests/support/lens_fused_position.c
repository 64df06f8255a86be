/*
 * lens_fused_position.c - one position's rows through the lens kernel, in
 * chunks and stripes (see lens_fused_position.h).
 */
#include "lens_fused_position.h"

#include <stdlib.h>
#include <string.h>

#include "lens/lens_fused.h"

/* The padding of a tile row past its chunk, and the offset of the final
 * row, as in the driver neither is a multiple of the vector width. */
enum { TILE_PADDING = 3, FINAL_OFFSET = 5 };

int test_lens_fused_position(const float *logits, int n_rows, int n_vocab, const int32_t (*ids)[3],
                             int topk, int chunk, int split, const float *floors, lens_row_stats *out,
                             unsigned *recount_masks) {
    const int stride = chunk + TILE_PADDING;
    lens_row_state *states = malloc(2 * (size_t)n_rows * sizeof *states);
    float *tile = malloc(((size_t)n_rows * stride + FINAL_OFFSET + chunk) * sizeof *tile);
    double *scratch = malloc(2 * (size_t)chunk * sizeof *scratch);
    if (states == NULL || tile == NULL || scratch == NULL) {
        free(states), free(tile), free(scratch);
        return -1;
    }
    lens_row_state *later = states + n_rows;
    float *final_row = tile + (size_t)(n_rows - 1) * stride + FINAL_OFFSET;
    for (int r = 0; r < n_rows; r++) {
        float thresholds[LENS_TOKEN_COUNT];
        for (int k = 0; k < LENS_TOKEN_COUNT; k++)
            thresholds[k] = ids[r][k] >= 0 ? logits[(size_t)r * n_vocab + ids[r][k]] : 0.0f;
        lens_row_state_begin(&states[r], ids[r], thresholds, topk);
        lens_row_state_begin(&later[r], ids[r], thresholds, topk);
        if (floors != NULL) {
            lens_row_state_set_floor(&states[r], floors[r]);
            lens_row_state_set_floor(&later[r], floors[r]);
        }
    }
    for (int stripe = 0; stripe < 2; stripe++) {
        int begin = stripe == 0 ? 0 : split, end = stripe == 0 ? split : n_vocab;
        for (int v = begin; v < end; v += chunk) {
            int n = end - v < chunk ? end - v : chunk;
            for (int r = 0; r + 1 < n_rows; r++)
                memcpy(tile + (size_t)r * stride, logits + (size_t)r * n_vocab + v, (size_t)n * sizeof *tile);
            memcpy(final_row, logits + (size_t)(n_rows - 1) * n_vocab + v, (size_t)n * sizeof *tile);
            lens_fused_chunk(stripe == 0 ? states : later, n_rows, tile, stride, final_row, v, n, scratch);
        }
    }
    lens_fused_merge(states, later, n_rows);
    for (int r = 0; r < n_rows; r++) lens_fused_finish(states, n_rows, r, &out[r], &recount_masks[r]);
    free(states), free(tile), free(scratch);
    return 0;
}
