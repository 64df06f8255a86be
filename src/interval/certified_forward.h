/*
 * certified_forward.h - the forward pass in midpoint-radius arithmetic:
 * every tap of the residual stream as balls (mid, rad) that contain the
 * exact real result of the same network (the checkpoint's weights as
 * loaded, exact +, x, /, sqrt, exp, tanh, erf) on the same tokens, with
 * every weight optionally widened to w [1 - R, 1 + R].
 *
 * Families: every one loupe runs: gpt2 (certified_gpt2.c) and the rotary
 * decoders (certified_decoder.c). Shapes: T tokens, C width.
 */
#ifndef LOUPE_INTERVAL_CERTIFIED_FORWARD_H
#define LOUPE_INTERVAL_CERTIFIED_FORWARD_H

#include <stdbool.h>
#include <stdint.h>

#include "loupe.h"

/* A tap: the residual stream as balls, mid and rad (T, C), valid for the
 * call only. A status other than LOUPE_OK stops the pass. */
typedef loupe_status (*certified_tap_fn)(void *user, loupe_tap_kind kind, int layer, const double *mid,
                                         const float *rad, int T, int C);

/* The steps of a block whose outputs certified_kernel_widths measures. */
typedef enum certified_step {
    CERTIFIED_STEP_NORM_1,      /* ln_1 / the attention norm's output */
    CERTIFIED_STEP_QKV,         /* q, k, v */
    CERTIFIED_STEP_ATTENTION,   /* the heads' outputs */
    CERTIFIED_STEP_RESIDUAL_1,  /* the residual after the attention's output projection */
    CERTIFIED_STEP_NORM_2,
    CERTIFIED_STEP_UP,          /* the MLP's first product */
    CERTIFIED_STEP_ACTIVATION,
    CERTIFIED_STEP_RESIDUAL_2,  /* the residual after the MLP */
    CERTIFIED_STEP_COUNT
} certified_step;

/* Median relative radius (rad / |mid| over entries with |mid| above 1e-6 of
 * the RMS) of each step's output per layer: widths[layer][step]. */
typedef struct certified_kernel_widths {
    int n_layer;
    double (*widths)[CERTIFIED_STEP_COUNT]; /* (L) caller-owned */
} certified_kernel_widths;

/* That measure of n balls (mid, rad): the median and the largest relative
 * radius rad / |mid| over the entries with |mid| above 1e-6 of their RMS
 * (0 and 0 when none is). scratch holds n floats. */
void certified_relative_radius(const double *mid, const float *rad, size_t n, float *scratch, double *median,
                               double *max);

typedef struct certified_forward_params {
    certified_tap_fn tap;     /* may be NULL */
    void *tap_user;
    bool tap_after_attention; /* also report LOUPE_TAP_AFTER_ATTENTION */
    double weight_radius;     /* R >= 0: every weight and bias widened to w [1 - R, 1 + R] */
    certified_kernel_widths *widths; /* NULL, or measured per step (costs a sort per step) */
} certified_forward_params;

/* Runs the certified forward pass on ids (T) and reports every tap in
 * order, as loupe_model_forward does; out of memory is LOUPE_ERROR_MEMORY. */
loupe_status certified_forward(const loupe_model *model, const int32_t *ids, int T,
                               const certified_forward_params *params, loupe_error *error);

/* The model's final norm on rows of balls: in (N, C) -> out (N, C), out
 * may not overlap in; weights widened by weight_radius. */
void certified_final_norm(const loupe_model *model, const double *in_mid, const float *in_rad, int N,
                          double weight_radius, double *out_mid, float *out_rad);

#endif
