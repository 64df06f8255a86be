/*
 * activation_backward.c - derivatives of GELU (tanh and erf), ReLU, SiLU.
 */
#include "train/activation_backward.h"

#include <math.h>

#include "kernels/vector_exp.h"

static const float SQRT_2_OVER_PI = 0.7978845608028654f;
static const float GELU_CUBIC = 0.044715f;

/* f(x) in float, as the forward kernels define it. */
static float activation_value(activation_kind kind, float x) {
    switch (kind) {
    case ACTIVATION_GELU_TANH: {
        float u = SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x);
        return 0.5f * x * (1.0f + tanhf(u));
    }
    case ACTIVATION_GELU_ERF: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case ACTIVATION_RELU: return x > 0.0f ? x : 0.0f;
    case ACTIVATION_SILU: return x / (1.0f + expf(-x));
    }
    return 0.0f;
}

/* f'(x) in float. */
static float activation_derivative(activation_kind kind, float x) {
    switch (kind) {
    case ACTIVATION_GELU_TANH: {
        float x2 = x * x;
        float th = tanhf(SQRT_2_OVER_PI * (x + GELU_CUBIC * x2 * x));
        return 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * SQRT_2_OVER_PI * (1.0f + 3.0f * GELU_CUBIC * x2);
    }
    case ACTIVATION_GELU_ERF:
        return 0.5f * (1.0f + erff(x * 0.70710678118654752f)) + x * 0.3989422804014327f * expf(-0.5f * x * x);
    case ACTIVATION_RELU: return x > 0.0f ? 1.0f : 0.0f;
    case ACTIVATION_SILU: {
        float s = 1.0f / (1.0f + expf(-x));
        return s * (1.0f + x * (1.0f - s));
    }
    }
    return 0.0f;
}

/* Elements of the tanh form's derivative per vector_exp call (on the stack). */
enum { GELU_TANH_BLOCK = 256 };

/* d_in (n) += d_out gelu_tanh'(x) with s = 1 / (1 + e^(-2u)) = (1 + tanh u) / 2:
 * gelu_tanh'(x) = s + 2 x s (1 - s) sqrt(2/pi) (1 + 3 a x^2), the exps through
 * vector_exp a block at a time (e^(-2u) = inf gives s = 0, the limit). */
static void gelu_tanh_backward(float *d_in, const float *d_out, const float *x, size_t n) {
    const size_t blocks = (n + GELU_TANH_BLOCK - 1) / GELU_TANH_BLOCK;
#pragma omp parallel for schedule(static)
    for (size_t block = 0; block < blocks; block++) {
        const size_t first = block * GELU_TANH_BLOCK;
        const size_t count = n - first < GELU_TANH_BLOCK ? n - first : GELU_TANH_BLOCK;
        const float *v = x + first;
        float s[GELU_TANH_BLOCK]; /* -2u, then e^(-2u), then s */
        for (size_t i = 0; i < count; i++) s[i] = -2.0f * SQRT_2_OVER_PI * (v[i] + GELU_CUBIC * v[i] * v[i] * v[i]);
        vector_exp(s, s, count);
        for (size_t i = 0; i < count; i++) {
            const float sigma = 1.0f / (1.0f + s[i]), x2 = v[i] * v[i];
            const float derivative =
                sigma + 2.0f * v[i] * sigma * (1.0f - sigma) * SQRT_2_OVER_PI * (1.0f + 3.0f * GELU_CUBIC * x2);
            d_in[first + i] += d_out[first + i] * derivative;
        }
    }
}

void activation_backward(activation_kind kind, float *d_in, const float *d_out, const float *x, size_t n) {
    if (kind == ACTIVATION_GELU_TANH) {
        gelu_tanh_backward(d_in, d_out, x, n);
        return;
    }
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) d_in[i] += d_out[i] * activation_derivative(kind, x[i]);
}

void activation_gated_backward(activation_kind kind, float *d_gate, float *d_up, const float *d_h,
                               const float *gate, const float *up, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        d_gate[i] += d_h[i] * up[i] * activation_derivative(kind, g);
        d_up[i] += d_h[i] * activation_value(kind, g);
    }
}

double activation_value_reference(activation_kind kind, double x) {
    switch (kind) {
    case ACTIVATION_GELU_TANH: return 0.5 * x * (1.0 + tanh(sqrt(2.0 / 3.14159265358979323846) * (x + 0.044715 * x * x * x)));
    case ACTIVATION_GELU_ERF: return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    case ACTIVATION_RELU: return x > 0.0 ? x : 0.0;
    case ACTIVATION_SILU: return x / (1.0 + exp(-x));
    }
    return 0.0;
}

double activation_derivative_reference(activation_kind kind, double x) {
    switch (kind) {
    case ACTIVATION_GELU_TANH: {
        double c = sqrt(2.0 / 3.14159265358979323846), th = tanh(c * (x + 0.044715 * x * x * x));
        return 0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * c * (1.0 + 3.0 * 0.044715 * x * x);
    }
    case ACTIVATION_GELU_ERF: return 0.5 * (1.0 + erf(x / sqrt(2.0))) + x * exp(-0.5 * x * x) / sqrt(2.0 * 3.14159265358979323846);
    case ACTIVATION_RELU: return x > 0.0 ? 1.0 : 0.0;
    case ACTIVATION_SILU: {
        double s = 1.0 / (1.0 + exp(-x));
        return s * (1.0 + x * (1.0 - s));
    }
    }
    return 0.0;
}
