/*
 * activations.h - the MLP activation functions checkpoints name, and the
 * gated form of Llama-family MLPs.
 */
#ifndef LOUPE_KERNELS_ACTIVATIONS_H
#define LOUPE_KERNELS_ACTIVATIONS_H

#include <stddef.h>

typedef enum activation_kind {
    ACTIVATION_GELU_TANH, /* "gelu_new", "gelu_pytorch_tanh": the tanh approximation */
    ACTIVATION_GELU_ERF,  /* "gelu": the exact erf form */
    ACTIVATION_RELU,      /* "relu" */
    ACTIVATION_SILU,      /* "silu": x sigmoid(x) */
} activation_kind;

/* The names activation_from_name accepts, for messages:
 * "gelu_new, gelu_pytorch_tanh, gelu, relu, silu". */
extern const char ACTIVATION_SUPPORTED_NAMES[];

/* Maps a config.json activation_function name; returns 0 on success, -1 for
 * a name loupe does not implement. */
int activation_from_name(const char *name, activation_kind *kind);

/* x (n) <- activation(x), in place. The tanh form runs through vector_exp:
 * within a few float roundings of the exact value, relative error growing
 * with |2u| where the result is e^(-2u)-small (x below about -3). */
void activation_apply(activation_kind kind, float *x, size_t n);

/* gate (n) <- activation(gate) * up (n): the gated MLP's hidden layer
 * (SwiGLU with SILU, GeGLU with the GELU forms). */
void activation_gated(activation_kind kind, float *gate, const float *up, size_t n);

/* The same in double, one element at a time, the oracle for tests. For the
 * tanh form: x / (1 + e^(-2u)) with u = sqrt(2/pi) (x + 0.044715 x^3), which
 * is 0.5 x (1 + tanh u) without the cancellation of 1 + tanh u. */
void activation_apply_reference(activation_kind kind, float *x, size_t n);

#endif
