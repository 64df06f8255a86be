/*
 * vocab_loss.h - the cross-entropy of rows against the whole vocabulary and
 * its gradient with respect to the rows and the unembedding, without ever
 * holding N x V floats: the loss of `loupe finetune` (final row and lens
 * rows alike, each already through the final norm).
 *
 * For row n with logits z = W x_n (V) and target t_n:
 *   CE_n = logsumexp(z) - z[t_n]
 *   dCE_n/dx_n = sum_v (p_v - [v = t_n]) W_v,   p = softmax(z)
 *   dCE_n/dW_v = (p_v - [v = t_n]) x_n
 *
 * The rows go in blocks of block_rows (VOCAB_LOSS_BLOCK_ROWS); a block's
 * full-vocabulary tile of logits (block_rows, V) lives in the workspace, so
 * each row costs three matrix-product passes over the vocabulary (logits,
 * dCE/dx, dCE/dW) and no logit is computed twice. The vocabulary is cut into
 * panels of panel_size entries (VOCAB_LOSS_PANEL) shared among the OpenMP
 * threads: per panel the logits, their max and exp(z - max); then per row
 * the log-normaliser from the panels' maxima and sums; then per panel the
 * gradient tile G = w (p - onehot) and its two products. Every split is
 * fixed, independent of the thread count, and BLAS runs single-threaded on
 * each panel, so the result is the same bits for any thread count.
 *
 * Workspace: block_rows x V floats for the tile, n_panels x block_rows x C
 * floats for the panels' parts of dCE/dx, block_rows x C doubles for their
 * sum and O(n_panels x block_rows) for the maxima and sums; block_rows =
 * min(max_rows, VOCAB_LOSS_BLOCK_ROWS), whatever N is. For gpt2-demo
 * (V = 50257, C = 192, 50 panels) that is 51.5 MB + 9.8 MB + 0.4 MB.
 *
 * Shapes: N rows, C width, V vocabulary.
 */
#ifndef LOUPE_TRAIN_VOCAB_LOSS_H
#define LOUPE_TRAIN_VOCAB_LOSS_H

#include <stdint.h>

#include "loupe.h"

/* Rows per block (the tile is this many rows of V logits) and vocabulary
 * entries per panel (one panel's tile, 256 x 1024 floats = 1 MB, goes
 * through its exp and its two products while it is in the core's caches).
 * 256 rows rather than 128 repack each panel of the unembedding half as
 * often (tools/vocab_loss_rate: some 15% less CPU time for gpt2-demo). */
enum { VOCAB_LOSS_BLOCK_ROWS = 256, VOCAB_LOSS_PANEL = 1024 };

typedef struct vocab_loss_workspace vocab_loss_workspace;

/* Working memory for calls of up to max_rows rows of width C against a
 * V-row unembedding (all at least 1), sized once; NULL when out of memory
 * or a size is not positive. Caller frees with vocab_loss_workspace_free. */
vocab_loss_workspace *vocab_loss_workspace_create(int max_rows, int C, int V);

/* The same with block_rows rows per block and panel_size vocabulary entries
 * per panel (both at least 1; NULL otherwise) instead of
 * VOCAB_LOSS_BLOCK_ROWS and VOCAB_LOSS_PANEL: the result is the same up to
 * the order of float sums; tests use small ones to cross many blocks and
 * panels on a small vocabulary. */
vocab_loss_workspace *vocab_loss_workspace_create_sized(int max_rows, int C, int V, int block_rows, int panel_size);

/* Frees a workspace; NULL is a no-op. */
void vocab_loss_workspace_free(vocab_loss_workspace *workspace);

/* normed (N, C): rows already through the final norm; targets (N) in 0..V-1;
 * row_weights (N) finite and >= 0; unembedding (V, C) row-major (wte /
 * lm_head). *loss = sum_n row_weights[n] * CE_n (double); ce (N) each row's
 * CE when not NULL (also for rows of weight 0); d_normed (N, C) is SET to
 * row_weights[n] * dCE_n/dnormed_n; d_unembedding (V, C) += sum_n
 * row_weights[n] dCE_n/dW (NULL: no weight gradient, and its product is
 * skipped). d_normed NULL (then d_unembedding NULL too): the loss and ce
 * only, one product per row (an evaluation). 0 <= N <= the workspace's
 * max_rows; V and C those of the workspace. Float32 products, double sums of the exps and of the loss,
 * max-subtracted log-sum-exp. LOUPE_ERROR_ARGUMENT (nothing written) for a
 * target out of range, a negative or non-finite weight, sizes other than the
 * workspace's, a NULL array that is required, or d_unembedding without
 * d_normed. */
loupe_status vocab_loss_forward_backward(vocab_loss_workspace *workspace, const float *normed, const int32_t *targets,
                                         const float *row_weights, int N, const float *unembedding, int V, int C,
                                         double *loss, float *ce, float *d_normed, float *d_unembedding,
                                         loupe_error *error);

#endif
