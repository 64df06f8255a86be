/*
 * lens_track.h - chosen tokens followed through every cell of the lens:
 * their logit, probability and rank in each row's distribution, whatever
 * their standing (the fused sweep keeps only the top-k and three tokens per
 * cell).
 *
 * Shapes: R rows, T positions, C width, V vocabulary, N tracked tokens.
 */
#ifndef LOUPE_LENS_TRACK_H
#define LOUPE_LENS_TRACK_H

#include <stdint.h>

#include "loupe.h"

/* Checks a tracking request: n_track 0 .. LOUPE_LENS_MAX_TRACK, each id in
 * 0 .. V-1 (track_ids may be NULL when n_track is 0). LOUPE_ERROR_ARGUMENT
 * naming the bad entry. */
loupe_status lens_track_check(const int32_t *track_ids, int n_track, int n_vocab, loupe_error *error);

/* For every row and position of taps (R, T, C), raw residual rows: the row's
 * lens logits (final norm, then unembedding; V of them, never more than one
 * block of rows at a time), and for each tracked id its logit, its
 * probability under the max-subtracted log-sum-exp of the row in double,
 * and its rank 1 + #{u : logit[u] > logit[id]}. Writes tracked (R, T, N).
 * LOUPE_ERROR_MEMORY when its one block of logits cannot be allocated. */
loupe_status lens_track_cells(const loupe_model *model, const float *taps, int R, int T, const int32_t *track_ids,
                              int n_track, loupe_lens_token *tracked, loupe_error *error);

#endif
