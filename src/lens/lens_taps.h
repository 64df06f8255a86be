/*
 * lens_taps.h - the residual stream at the taps the lens reads, collected in
 * row order (the rows of loupe_lens_row_count / loupe_lens_row_label).
 */
#ifndef LOUPE_LENS_TAPS_H
#define LOUPE_LENS_TAPS_H

#include <stdbool.h>
#include <stdint.h>

#include "loupe.h"

/* Runs the model on ids (T) and copies every tap of the lens into taps
 * (R, T, C), R = loupe_lens_row_count_with(L, subblocks, contributions):
 * row 0 the embedding, then per block its attention tap (with sub-blocks)
 * and its output, raw (un-normalised); with contributions each sub-block's
 * output (what it adds to the residual) comes before the tap it makes
 * (hN.attn_out, [hN.attn,] hN.mlp_out, hN). The errors are
 * loupe_model_forward's, and LOUPE_ERROR_MEMORY when the (T, C) scratch of
 * contributions cannot be allocated. */
loupe_status lens_taps_collect(const loupe_model *model, const int32_t *ids, int n_tokens, bool subblocks,
                               bool contributions, float *taps, loupe_error *error);

#endif
