/*
 * lens_contributions.h - what each sub-block writes into the residual
 * stream (loupe_lens_params.contributions): the deltas that become the rows
 * hN.attn_out and hN.mlp_out, and their direct logit attribution.
 *
 * Shapes: R rows, T positions, C width, V vocabulary. Definitions in
 * docs/METRICS.md.
 */
#ifndef LOUPE_LENS_CONTRIBUTIONS_H
#define LOUPE_LENS_CONTRIBUTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loupe.h"

/* One sub-block's output from two taps: delta (n) = residual - previous,
 * then previous = residual, ready for the next sub-block. */
void lens_contribution_delta(float *delta, const float *residual, float *previous, size_t n);

/* True when row `row` of a lens with contributions (and subblocks as
 * given) is a component of the final residual: the input row or an
 * hN.attn_out / hN.mlp_out row. */
bool lens_row_is_component(int row, bool subblocks);

/* The direct logit attribution of every component row of taps (R, T, C)
 * (the lens's rows with contributions; row R-1 the final residual) to the
 * true next token next_ids[t] (T, -1 where none) and to final_top[t] (T): for a component d at
 * position t, sum_c W_U[v, c] g_c c(d)_c / s(x), with x the final residual
 * at t, g the final norm's weight, c(d) = d - mean(d) for LayerNorm (d for
 * RMSNorm) and s(x) the norm's scale of x, sqrt(var(x) + eps) or
 * sqrt(mean(x^2) + eps); in double. Writes out (R, T) for the component
 * rows (others untouched); target is NaN where next_ids is -1.
 * LOUPE_ERROR_MEMORY when its scratch (2 C doubles, C floats) cannot be
 * allocated. */
loupe_status lens_contributions_attribute(const loupe_model *model, const float *taps, int R, int T, bool subblocks,
                                          const int32_t *next_ids, const int32_t *final_top, loupe_lens_attribution *out,
                                          loupe_error *error);

#endif
