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
 * (R, T, C), R = loupe_lens_row_count(L, subblocks): row 0 the embedding,
 * then per block its attention tap (with sub-blocks) and its output, raw
 * (un-normalised). The errors are loupe_model_forward's. */
loupe_status lens_taps_collect(const loupe_model *model, const int32_t *ids, int n_tokens, bool subblocks,
                               float *taps, loupe_error *error);

#endif
