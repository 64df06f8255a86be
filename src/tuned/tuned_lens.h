/*
 * tuned_lens.h - what an open loupe_tuned_lens holds (internal): the
 * translators of the tuned lens (Belrose et al. 2023, the tuned-lens
 * package), one affine map per layer i = 0 .. L-1 (0 = the embedding
 * output), read through the model's final norm and unembedding as
 *   lens_i(h) = unembed(final_norm(h + A_i h + b_i)).
 * The model's output row has no translator. docs/TUNED_LENS.md.
 */
#ifndef LOUPE_TUNED_TUNED_LENS_H
#define LOUPE_TUNED_TUNED_LENS_H

#include <stdbool.h>
#include <stddef.h>

#include "io/safetensors.h"
#include "loupe.h"

struct loupe_tuned_lens {
    char *directory;       /* the lens folder (owned) */
    char *base_model;      /* config.json's base_model_name_or_path (owned, may be "") */
    const char *params_name; /* "params.safetensors" or "params.pt" */
    int n_layer;           /* L: translators */
    int n_embd;            /* C */
    bool bias;             /* config.json's bias: false means every b_i is 0 */
    float *weights;        /* (L, C, C) A_i as nn.Linear keeps it, (out, in): A_i h = h A_i^T for a row h */
    float *biases;         /* (L, C) b_i, zeros without bias */
};

/* Copies the translators out of a state dict: tensors (n_tensors) named
 * "{i}.weight" (C, C) and, with lens->bias, "{i}.bias" (C) for i = 0 ..
 * L-1, of any float dtype, converted to float32 into lens->weights and
 * lens->biases (already allocated). Any other tensor, a missing one or a
 * wrong shape is LOUPE_ERROR_FORMAT naming `file` and the tensor. */
loupe_status tuned_lens_bind_params(loupe_tuned_lens *lens, const tensor_view *tensors, size_t n_tensors,
                                    const char *file, loupe_error *error);

/* A lens of L translators of width C, all zero (the logit lens), with
 * bias; NULL when out of memory. directory and base_model are copied. */
loupe_tuned_lens *tuned_lens_create(const char *directory, const char *base_model, int n_layer, int n_embd);

#endif
