/*
 * lens_fused_position.h - runs the lens kernel (src/lens/lens_fused.h) over
 * every row of one position the way the lens driver feeds it, so the tests
 * check the statistics where the product computes them.
 *
 * Shapes: R rows (row 0 the input row, row R-1 the final row), V vocabulary.
 */
#ifndef LOUPE_LENS_FUSED_POSITION_H
#define LOUPE_LENS_FUSED_POSITION_H

#include <stdint.h>

#include "lens/lens_stats.h"

/* The statistics of every row of logits (R, V), each row with its tokens
 * ids (R, 3) (target, input, final top; -1 when absent) and topk, into
 * out (R); recount_masks (R) gets lens_fused_finish's mask (0 when the
 * thresholds, taken from the rows themselves, match what the pass sees).
 * The vocabulary is cut into two stripes at `split` (1 .. V; V makes one
 * stripe) fed in chunks of `chunk` entries and merged in order, each chunk
 * packed as the driver packs it: rows 0 .. R-2 in a tile with a stride
 * wider than the chunk, the final row apart at an unaligned address.
 * (With one stripe the empty second is merged all the same.) floors (R),
 * unless NULL, are the rows' lens_row_state_set_floor. Returns 0, or
 * -1 when out of memory. */
int test_lens_fused_position(const float *logits, int n_rows, int n_vocab, const int32_t (*ids)[3],
                             int topk, int chunk, int split, const float *floors, lens_row_stats *out,
                             unsigned *recount_masks);

#endif
