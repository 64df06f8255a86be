/*
 * certified_lens.h - the logit lens in ball arithmetic: every cell's lens
 * logits as intervals that contain the exact real logits (the certified
 * forward pass, the final norm and the unembedding as balls), and what they
 * decide: the target's and input's logit, probability and rank intervals,
 * the entropy's and the KL divergences' intervals and whether the top-1
 * token is certain. docs/INTERVALS.md defines every
 * field. Shapes: R rows, T positions, V vocabulary, C width.
 */
#ifndef LOUPE_INTERVAL_CERTIFIED_LENS_H
#define LOUPE_INTERVAL_CERTIFIED_LENS_H

#include <stdbool.h>
#include <stdint.h>

#include "loupe.h"

struct certified_kernel_widths;

/* One cell's certified quantities; [0] is the lower, [1] the upper bound. */
typedef struct certified_cell {
    float target_logit[2], target_prob[2]; /* undefined (0) at the last position: has_target false */
    float input_logit[2], input_prob[2];
    int32_t target_rank[2], input_rank[2]; /* [best, worst]: 1 + tokens certainly / possibly above */
    int32_t top1;          /* the token with the largest midpoint logit; -1 when its radius is infinite (nothing known) */
    bool top1_certain;     /* its lower bound exceeds every other token's upper bound */
    bool has_target;
    float certainty;       /* (mid_top1 - mid_second) / (rad_top1 + rad_second), +inf when both exact */
    float entropy[2];      /* nats */
    float kl_final[2], kl_final_rev[2], kl_first[2], kl_first_rev[2]; /* as loupe_lens_cell's, nats */
    float radius;          /* the median relative radius of this position's residual vector (C), as a row's */
} certified_cell;

/* A row's relative radius of the residual stream: rad / |mid| over the
 * entries (all positions) with |mid| above 1e-6 of the row's RMS. */
typedef struct certified_row {
    float radius_median, radius_max;
} certified_row;

typedef struct certified_lens {
    int n_rows, n_positions;  /* R, T */
    double weight_radius;
    certified_cell *cells;    /* (R, T) */
    certified_row *rows;      /* (R) */
} certified_lens;

/* Runs the certified lens on ids (T) with the lens rows loupe_lens_run
 * has for `subblocks`, weights widened by weight_radius (>= 0); with
 * widths non-NULL also measures each step's widening per layer
 * (certified_forward_params.widths).
 * *out is freed with certified_lens_free; out of memory is
 * LOUPE_ERROR_MEMORY. */
loupe_status certified_lens_run(const loupe_model *model, const int32_t *ids, int T, bool subblocks,
                                double weight_radius, struct certified_kernel_widths *widths, certified_lens **out,
                                loupe_error *error);
void certified_lens_free(certified_lens *lens);

/* The cell at (row, position), NULL out of range. */
const certified_cell *certified_lens_cell(const certified_lens *lens, int row, int position);

#endif
