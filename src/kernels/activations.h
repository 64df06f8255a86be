/*
 * activations.h - the MLP activation functions GPT-2 checkpoints name.
 */
#ifndef LOUPE_KERNELS_ACTIVATIONS_H
#define LOUPE_KERNELS_ACTIVATIONS_H

#include <stddef.h>

typedef enum activation_kind {
    ACTIVATION_GELU_TANH, /* "gelu_new", "gelu_pytorch_tanh": the tanh approximation */
    ACTIVATION_GELU_ERF,  /* "gelu": the exact erf form */
    ACTIVATION_RELU,      /* "relu" */
} activation_kind;

/* Maps a config.json activation_function name; returns 0 on success, -1 for
 * a name loupe does not implement. */
int activation_from_name(const char *name, activation_kind *kind);

/* x (n) <- activation(x), in place. */
void activation_apply(activation_kind kind, float *x, size_t n);

#endif
