/*
 * activations.c - GELU (tanh and erf forms), ReLU and SiLU, as PyTorch
 * computes them.
 *
 * The tanh form is computed as x / (1 + e^(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3),
 * which equals 0.5 x (1 + tanh u) but does not cancel where tanh u is near
 * -1; the exps run through vector_exp a block at a time.
 */
#include "kernels/activations.h"

#include <math.h>
#include <string.h>

#include "kernels/parallel.h"
#include "kernels/vector_exp.h"

/* Floats of the tanh form handled per vector_exp call (on the stack). */
enum { ACTIVATION_GELU_BLOCK = 256 };

const char ACTIVATION_SUPPORTED_NAMES[] = "gelu_new, gelu_pytorch_tanh, gelu, relu, silu";

int activation_from_name(const char *name, activation_kind *kind) {
    if (strcmp(name, "gelu_new") == 0 || strcmp(name, "gelu_pytorch_tanh") == 0 ||
        strcmp(name, "gelu_fast") == 0) {
        *kind = ACTIVATION_GELU_TANH;
        return 0;
    }
    if (strcmp(name, "gelu") == 0) {
        *kind = ACTIVATION_GELU_ERF;
        return 0;
    }
    if (strcmp(name, "relu") == 0) {
        *kind = ACTIVATION_RELU;
        return 0;
    }
    if (strcmp(name, "silu") == 0) {
        *kind = ACTIVATION_SILU;
        return 0;
    }
    return -1;
}

/* x (n) <- gelu_tanh(x). x^3 may overflow: for x = +-1e30 or +-inf, -2u is
 * -+inf and the result x / 1 = x or x / inf = -0 (NaN for -inf, as with
 * tanh). Elements are independent, so the threads' split does not matter. */
static void gelu_tanh(float *x, size_t n) {
    const float minus_two_sqrt_2_over_pi = -1.5957691216057308f;
    size_t blocks = (n + ACTIVATION_GELU_BLOCK - 1) / ACTIVATION_GELU_BLOCK;
#pragma omp parallel for schedule(static) if (parallel_worth(n))
    for (size_t block = 0; block < blocks; block++) {
        float *v = x + block * ACTIVATION_GELU_BLOCK;
        size_t count = n - block * ACTIVATION_GELU_BLOCK;
        if (count > ACTIVATION_GELU_BLOCK) count = ACTIVATION_GELU_BLOCK;
        float e[ACTIVATION_GELU_BLOCK]; /* -2u, then e^(-2u) */
        for (size_t i = 0; i < count; i++)
            e[i] = minus_two_sqrt_2_over_pi * (v[i] + 0.044715f * v[i] * v[i] * v[i]);
        vector_exp(e, e, count);
        for (size_t i = 0; i < count; i++) v[i] = v[i] / (1.0f + e[i]);
    }
}

/* x (n) <- x / (1 + e^(-x)), the exps through vector_exp a block at a time. */
static void silu(float *x, size_t n) {
    size_t blocks = (n + ACTIVATION_GELU_BLOCK - 1) / ACTIVATION_GELU_BLOCK;
#pragma omp parallel for schedule(static) if (parallel_worth(n))
    for (size_t block = 0; block < blocks; block++) {
        float *v = x + block * ACTIVATION_GELU_BLOCK;
        size_t count = n - block * ACTIVATION_GELU_BLOCK;
        if (count > ACTIVATION_GELU_BLOCK) count = ACTIVATION_GELU_BLOCK;
        float e[ACTIVATION_GELU_BLOCK]; /* -x, then e^(-x) */
        for (size_t i = 0; i < count; i++) e[i] = -v[i];
        vector_exp(e, e, count);
        for (size_t i = 0; i < count; i++) v[i] = v[i] / (1.0f + e[i]);
    }
}

void activation_gated(activation_kind kind, float *gate, const float *up, size_t n) {
    activation_apply(kind, gate, n);
#pragma omp parallel for schedule(static) if (parallel_worth(n))
    for (size_t i = 0; i < n; i++) gate[i] *= up[i];
}

void activation_apply(activation_kind kind, float *x, size_t n) {
    const float inv_sqrt_2 = 0.7071067811865476f;
    switch (kind) {
    case ACTIVATION_GELU_TANH:
        gelu_tanh(x, n);
        break;
    case ACTIVATION_GELU_ERF:
#pragma omp parallel for schedule(static) if (parallel_worth(n))
        for (size_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * inv_sqrt_2));
        break;
    case ACTIVATION_RELU:
#pragma omp parallel for schedule(static) if (parallel_worth(n))
        for (size_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
    case ACTIVATION_SILU:
        silu(x, n);
        break;
    }
}

void activation_apply_reference(activation_kind kind, float *x, size_t n) {
    const double sqrt_2_over_pi = 0.79788456080286536, inv_sqrt_2 = 0.70710678118654752;
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        switch (kind) {
        case ACTIVATION_GELU_TANH: {
            /* 0.5 v (1 + tanh u) = v / (1 + e^(-2u)) in double; tanh would
             * cancel (1 + tanh u rounds to 0 in double below u = -19). */
            double u = sqrt_2_over_pi * (v + 0.044715 * v * v * v);
            x[i] = (float)(v / (1.0 + exp(-2.0 * u)));
            break;
        }
        case ACTIVATION_GELU_ERF:
            x[i] = (float)(0.5 * v * (1.0 + erf(v * inv_sqrt_2)));
            break;
        case ACTIVATION_RELU:
            x[i] = v > 0.0 ? (float)v : 0.0f;
            break;
        case ACTIVATION_SILU:
            x[i] = (float)(v / (1.0 + exp(-v)));
            break;
        }
    }
}
