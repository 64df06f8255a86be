/*
 * ball_activations.h - the MLP activations on balls: GELU (tanh and erf
 * forms), ReLU, SiLU, and the gated product.
 *
 * Each activation is evaluated in double at the ends of the ball with a
 * stated relative error bound (libm's exp and erfc widened, the argument's
 * rounding propagated; docs/CERTIFY.md). The GELUs and SiLU are not
 * monotone: they fall to one minimum (GELU near x = -0.7518, SiLU near
 * -1.2785) and rise after it, so a ball that reaches the minimum's
 * neighbourhood maps to [a lower bound of the minimum, the larger end].
 */
#ifndef LOUPE_INTERVAL_BALL_ACTIVATIONS_H
#define LOUPE_INTERVAL_BALL_ACTIVATIONS_H

#include <stddef.h>

#include "kernels/activations.h"

/* The ball (mid, rad) (n) <- activation(ball), in place. */
void ball_activation(activation_kind kind, double *mid, float *rad, size_t n);

/* gate (n) <- activation(gate) x up (n), as balls, in place in gate. */
void ball_activation_gated(activation_kind kind, double *gate_mid, float *gate_rad, const double *up_mid,
                           const float *up_rad, size_t n);

/* Bounds lo <= f(x) <= hi of the activation at one double x, for tests and
 * the kernels. */
void ball_activation_point(activation_kind kind, double x, double *lo, double *hi);

#endif
