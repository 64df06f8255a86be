/*
 * model_gradient.h - the gradient of `loupe finetune`'s loss with respect to
 * every parameter of a model (train/train_parameters.h), one batch at a
 * time:
 *
 *   loss = CE(row L) + lambda (1/|S|) sum_{l in S} CE(row l)
 *
 * row l the residual stream after block l (row 0 the embeddings, row L the
 * model's output), each read through the final norm and the unembedding as
 * `loupe lens` reads it; each CE the mean over the batch's B T positions of
 * -log p(next token). Windows: ids (B, T+1); window b's inputs are
 * ids[b (T+1) + 0 .. T-1], its targets ids[b (T+1) + 1 .. T].
 *
 * The forward pass keeps per layer only what the backward pass needs (the
 * residual rows, the attention's q k v, output and log-sum-exp per head and
 * query, the MLP's pre-activation, the norms' mean and rstd); norm outputs
 * and activations are recomputed. The lens losses stream the vocabulary
 * (train/vocab_loss.h): nothing of size L x T x V, nor T x V per row.
 * Families dispatch through model_gradient_family.h (GPT-2 in
 * model_gradient_gpt2.c). Results are the same bits for the same thread
 * count.
 *
 * Shapes: B windows, T positions, C width, L layers, V vocabulary.
 */
#ifndef LOUPE_TRAIN_MODEL_GRADIENT_H
#define LOUPE_TRAIN_MODEL_GRADIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "loupe.h"
#include "train/train_parameters.h"

typedef struct model_loss_settings {
    double lens_weight;     /* lambda >= 0 (finite) */
    const bool *lens_rows;  /* (L) true for rows of S among 0..L-1; NULL: all of them (copied at create) */
} model_loss_settings;

typedef struct model_loss_parts {
    double loss;            /* the batch's loss as defined above */
    double final_ce;        /* mean CE of row L */
    double lens_ce;         /* mean over S of each lens row's mean CE (0 when lambda = 0 or S empty) */
} model_loss_parts;

typedef struct model_gradient model_gradient;

/* Workspace for batches of up to max_batch windows of T positions
 * (1 <= T <= n_ctx, max_batch >= 1: else LOUPE_ERROR_ARGUMENT), with the
 * settings copied. params must be train_parameters_load's vector of this
 * model: its tensors are bound by name and shape now (a missing or
 * misshapen one is LOUPE_ERROR_FORMAT naming it). A family it cannot train
 * is LOUPE_ERROR_UNSUPPORTED naming the family and listing the trainable
 * ones (E2702). Out of memory: LOUPE_ERROR_MEMORY. On failure *out is
 * NULL. */
loupe_status model_gradient_create(const loupe_model *model, const train_parameters *params, int max_batch, int T,
                                   const model_loss_settings *settings, model_gradient **out, loupe_error *error);

/* Forward and backward of one batch ids (B, T+1), 1 <= B <= max_batch, with
 * the weights in params->values (the same layout as at create; the values
 * may have changed): grads (params->n_values) += weight * dloss/dparams
 * (tied embeddings: one tensor receives both gradients), *parts set.
 * grads NULL: the forward pass and the losses only (an evaluation: one
 * product per row and position over the vocabulary instead of three, no
 * backward pass), the same *parts and row_ce.
 * row_ce (L+1) optional (NULL): each row's mean CE (NaN for rows not
 * computed: rows outside S, and every row but L when lambda = 0). Ids out
 * of range: LOUPE_ERROR_ARGUMENT naming window and position, nothing
 * added. */
loupe_status model_gradient_accumulate(model_gradient *gradient, const train_parameters *params, const int32_t *ids,
                                       int B, double weight, float *grads, model_loss_parts *parts, double *row_ce,
                                       loupe_error *error);

/* Frees the workspace; NULL is a no-op. */
void model_gradient_free(model_gradient *gradient);

/* Writes the model types model_gradient_create trains ("gpt2, ...") into
 * buffer (capacity bytes, truncated as snprintf does). */
void model_gradient_supported_types(char *buffer, size_t capacity);

#endif
