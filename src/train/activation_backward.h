/*
 * activation_backward.h - the backward passes of kernels/activations.h's
 * functions, from the activation's input x (saved by the forward pass).
 */
#ifndef LOUPE_TRAIN_ACTIVATION_BACKWARD_H
#define LOUPE_TRAIN_ACTIVATION_BACKWARD_H

#include <stddef.h>

#include "kernels/activations.h"

/* d_in (n) += d_out (n) * f'(x (n)) for f = kind. d_in may equal d_out
 * only if it held 0 before (then it is overwritten with the product); use
 * separate buffers otherwise. Elements in parallel. */
void activation_backward(activation_kind kind, float *d_in, const float *d_out, const float *x, size_t n);

/* For h = f(gate) * up (kernels/activations.h's activation_gated), from
 * d_h (n) and the inputs gate (n), up (n): d_gate (n) += d_h up f'(gate),
 * d_up (n) += d_h f(gate). */
void activation_gated_backward(activation_kind kind, float *d_gate, float *d_up, const float *d_h,
                               const float *gate, const float *up, size_t n);

/* f(x) and f'(x) in double, the oracle for tests. */
double activation_value_reference(activation_kind kind, double x);
double activation_derivative_reference(activation_kind kind, double x);

#endif
