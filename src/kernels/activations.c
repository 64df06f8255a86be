/*
 * activations.c - GELU (tanh and erf forms) and ReLU, as PyTorch computes them.
 */
#include "kernels/activations.h"

#include <math.h>
#include <string.h>

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
    return -1;
}

void activation_apply(activation_kind kind, float *x, size_t n) {
    const float sqrt_2_over_pi = 0.7978845608028654f;
    const float inv_sqrt_2 = 0.7071067811865476f;
    switch (kind) {
    case ACTIVATION_GELU_TANH:
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) {
            float v = x[i];
            x[i] = 0.5f * v * (1.0f + tanhf(sqrt_2_over_pi * (v + 0.044715f * v * v * v)));
        }
        break;
    case ACTIVATION_GELU_ERF:
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * inv_sqrt_2));
        break;
    case ACTIVATION_RELU:
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
    }
}
