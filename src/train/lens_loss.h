/*
 * lens_loss.h - the tuned lens's training loss and its gradient with
 * respect to the translators, as tuned-lens's train_loop defines them:
 *   KL (default): per layer i = 0 .. L-1, the mean over positions of
 *     KL(p_final || q_i), p_final the model's output distribution and q_i
 *     the tuned lens's at the same position (no shift);
 *   CE: per layer, the mean over positions t of -log q_i(x(t+1)).
 * The training loss is their sum over layers.
 *
 * The gradient flows through the final norm (LayerNorm or RMSNorm), the
 * unembedding and the log-softmax in float32 with double accumulation.
 * No (T, V) array per layer exists: the vocabulary is streamed once, in
 * chunks of LENS_LOSS_CHUNK entries, each row keeping a running
 * log-normaliser and the running expectation of the unembedding rows under
 * its distribution (rescaled as the max grows, the online softmax), from
 * which dL/dnormed = E_q[W] - E_p[W] and the loss follow at the end.
 *
 * Shapes: L translators, T positions of a window, C width, V vocabulary.
 */
#ifndef LOUPE_TRAIN_LENS_LOSS_H
#define LOUPE_TRAIN_LENS_LOSS_H

#include <stdint.h>

#include "loupe.h"

typedef enum lens_loss_kind { LENS_LOSS_KL, LENS_LOSS_CE } lens_loss_kind;

/* Vocabulary entries per chunk, and positions per block of rows: a block's
 * tile of logits, BLOCK (L + 1) CHUNK floats (917 KB for gpt2-demo), is
 * made, turned into exps and consumed on one thread while it is in that
 * core's cache. */
enum { LENS_LOSS_CHUNK = 1024, LENS_LOSS_BLOCK = 32 };

typedef struct lens_loss_workspace lens_loss_workspace;

/* Working memory for windows of at most max_tokens positions, sized once;
 * NULL when out of memory. */
lens_loss_workspace *lens_loss_workspace_create(const loupe_model *model, int max_tokens, lens_loss_kind kind);

/* The same with chunk_size vocabulary entries per chunk and block_size
 * positions per block (both at least 1; NULL otherwise) instead of
 * LENS_LOSS_CHUNK and LENS_LOSS_BLOCK: the result is the same up to the
 * order of float sums; tests use small ones to cross many chunks and
 * blocks on a small vocabulary. */
lens_loss_workspace *lens_loss_workspace_create_sized(const loupe_model *model, int max_tokens, lens_loss_kind kind,
                                                      int chunk_size, int block_size);
void lens_loss_workspace_free(lens_loss_workspace *workspace);

/* One window: taps (L+1, T, C) the raw residual rows 0 .. L (row L the
 * model's output), ids (T) its tokens; positions [begin, end) are scored
 * (CE needs end <= T - 1). Adds weight x each scored position's loss to
 * loss_sums (L) and weight x its gradient to grad_weights (L, C, C, as
 * nn.Linear's weight) and grad_biases (L, C), translators from `lens`.
 * weight is 1 / (positions of the step) for the step's mean. */
loupe_status lens_loss_accumulate(lens_loss_workspace *workspace, const loupe_tuned_lens *lens, const float *taps,
                                  const int32_t *ids, int T, int begin, int end, double weight, double *loss_sums,
                                  float *grad_weights, float *grad_biases, loupe_error *error);

#endif
