/*
 * model_gradient_family.h - what one family provides to model_gradient.c:
 * its own state behind the three calls of model_gradient.h. Adding a family
 * is one file (model_gradient_<family>.c) and one line of the table in
 * model_gradient.c.
 */
#ifndef LOUPE_TRAIN_MODEL_GRADIENT_FAMILY_H
#define LOUPE_TRAIN_MODEL_GRADIENT_FAMILY_H

#include "train/model_gradient.h"

typedef struct model_gradient_family {
    /* model_gradient_create with the family already matched and the
     * arguments checked (T, max_batch, lambda, rows); *state owned by the
     * family. */
    loupe_status (*create)(const loupe_model *model, const train_parameters *params, int max_batch, int T,
                           const model_loss_settings *settings, void **state, loupe_error *error);
    /* model_gradient_accumulate with B checked and the ids checked in
     * range. */
    loupe_status (*accumulate)(void *state, const train_parameters *params, const int32_t *ids, int B,
                               double weight, float *grads, model_loss_parts *parts, double *row_ce,
                               loupe_error *error);
    void (*free)(void *state);
} model_gradient_family;

/* The GPT-2 family (GPT-2, DistilGPT-2): model_gradient_gpt2.c. */
extern const model_gradient_family MODEL_GRADIENT_GPT2;

#endif
