/*
 * vocab_loss.c - cross-entropy against the whole vocabulary and its
 * gradient, one block of rows at a time (vocab_loss.h).
 *
 * Per block of rows x (rows, C):
 *   1. per panel [v0, v1) of the vocabulary (threads): the logits
 *      tile[:, v0:v1] = x W[v0:v1]^T, each row's panel max m_p, the tile
 *      turned into exp(z - m_p) in place, and s_p = sum exp(z - m_p) (double);
 *   2. per row: M = max_p m_p, lse = M + log sum_p s_p e^(m_p - M), CE;
 *   3. per panel (threads): G = w e^(m_p - lse) exp(z - m_p) - w [v = t], the
 *      weighted gradient of the logits, in place; d_W[v0:v1] += G^T x and
 *      the panel's part G W[v0:v1] of dCE/dx;
 *   4. per row: d_normed = the sum of the panels' parts, in panel order.
 */
#include "train/vocab_loss.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "kernels/matmul.h"
#include "kernels/parallel.h"
#include "kernels/vector_exp.h"
#include "util/error.h"

/* e^x is a normal float for x above ln FLT_MIN = -87.34; entries further
 * than this below their panel's max become exactly 0 rather than subnormal
 * floats, which would change no float sum of the row (its max contributes
 * 1) and slow every product with the tile several times over. */
#define EXP_NORMAL_FLOOR -87.0f

struct vocab_loss_workspace {
    int max_rows, C, V;
    int block_rows, panel_size, n_panels;
    float *tile;          /* (block_rows, V) logits, then exps, then the gradient of the logits */
    float *panel_max;     /* (n_panels, block_rows) each row's max over the panel */
    double *panel_sum;    /* (n_panels, block_rows) sum over the panel of exp(z - panel max) */
    float *panel_scale;   /* (n_panels, block_rows) w e^(panel max - lse) */
    float *target_logit;  /* (block_rows) z[t] of each row */
    float *panel_d_rows;  /* (n_panels, block_rows, C) each panel's part of d_normed */
    double *row_sums;     /* (block_rows, C) their sum */
};

vocab_loss_workspace *vocab_loss_workspace_create(int max_rows, int C, int V) {
    return vocab_loss_workspace_create_sized(max_rows, C, V, VOCAB_LOSS_BLOCK_ROWS, VOCAB_LOSS_PANEL);
}

vocab_loss_workspace *vocab_loss_workspace_create_sized(int max_rows, int C, int V, int block_rows, int panel_size) {
    if (max_rows < 1 || C < 1 || V < 1 || block_rows < 1 || panel_size < 1) return NULL;
    vocab_loss_workspace *w = calloc(1, sizeof *w);
    if (w == NULL) return NULL;
    w->max_rows = max_rows, w->C = C, w->V = V;
    w->block_rows = block_rows < max_rows ? block_rows : max_rows;
    w->panel_size = panel_size < V ? panel_size : V;
    w->n_panels = (V + w->panel_size - 1) / w->panel_size;
    const size_t rows = (size_t)w->block_rows, panel_rows = (size_t)w->n_panels * rows;
    w->tile = malloc(rows * (size_t)V * sizeof(float));
    w->panel_max = malloc(panel_rows * sizeof(float));
    w->panel_sum = malloc(panel_rows * sizeof(double));
    w->panel_scale = malloc(panel_rows * sizeof(float));
    w->target_logit = malloc(rows * sizeof(float));
    w->panel_d_rows = malloc(panel_rows * (size_t)C * sizeof(float));
    w->row_sums = malloc(rows * (size_t)C * sizeof(double));
    if (!w->tile || !w->panel_max || !w->panel_sum || !w->panel_scale || !w->target_logit || !w->panel_d_rows ||
        !w->row_sums) {
        vocab_loss_workspace_free(w);
        return NULL;
    }
    return w;
}

void vocab_loss_workspace_free(vocab_loss_workspace *w) {
    if (w == NULL) return;
    free(w->tile);
    free(w->panel_max);
    free(w->panel_sum);
    free(w->panel_scale);
    free(w->target_logit);
    free(w->panel_d_rows);
    free(w->row_sums);
    free(w);
}

/* Step 1 for panel p of a block of `rows` rows x (rows, C) with targets
 * (rows): the logits into the tile, then exp(z - panel max) in place, the
 * panel's maxima and sums, and the target logits that fall in the panel. */
static void panel_exps(vocab_loss_workspace *w, const float *x, const int32_t *targets, int rows,
                       const float *unembedding, int p) {
    const int C = w->C, V = w->V, v0 = p * w->panel_size;
    const int width = v0 + w->panel_size < V ? w->panel_size : V - v0;
    float *panel = w->tile + v0;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, width, C, 1.0f, x, C, unembedding + (size_t)v0 * C,
                C, 0.0f, panel, V);
    for (int r = 0; r < rows; r++) {
        float *z = panel + (size_t)r * V;
        const int t = targets[r];
        if (t >= v0 && t < v0 + width) w->target_logit[r] = z[t - v0];
        float top = -INFINITY;
#pragma omp simd reduction(max : top)
        for (int v = 0; v < width; v++) top = z[v] > top ? z[v] : top;
#pragma omp simd
        for (int v = 0; v < width; v++) {
            const float shifted = z[v] - top;
            z[v] = shifted < EXP_NORMAL_FLOOR ? -INFINITY : shifted;
        }
        vector_exp(z, z, (size_t)width);
        double sum = 0.0;
#pragma omp simd reduction(+ : sum)
        for (int v = 0; v < width; v++) sum += z[v];
        w->panel_max[(size_t)p * w->block_rows + r] = top;
        w->panel_sum[(size_t)p * w->block_rows + r] = sum;
    }
}

/* Step 2: each row's log-normaliser from the panels' maxima and sums; its
 * CE into ce_block (rows, may be NULL), the weighted sum of the CEs added
 * to *loss in row order, and each panel's scale w e^(m_p - lse). */
static void rows_normalise(vocab_loss_workspace *w, const float *weights, int rows, float *ce_block, double *loss) {
    const size_t stride = (size_t)w->block_rows;
    for (int r = 0; r < rows; r++) {
        double top = -INFINITY;
        for (int p = 0; p < w->n_panels; p++) top = fmax(top, w->panel_max[p * stride + r]);
        double sum = 0.0;
        for (int p = 0; p < w->n_panels; p++) sum += w->panel_sum[p * stride + r] * exp(w->panel_max[p * stride + r] - top);
        const double lse = top + log(sum), ce = lse - w->target_logit[r];
        if (ce_block != NULL) ce_block[r] = (float)ce;
        *loss += weights[r] * ce;
        for (int p = 0; p < w->n_panels; p++)
            w->panel_scale[p * stride + r] = (float)(weights[r] * exp(w->panel_max[p * stride + r] - lse));
    }
}

/* Step 3 for panel p: the tile's exps become G = w (p - onehot) in place
 * (products below FLT_MIN flushed to 0, as in step 1), then d_unembedding's
 * panel rows (may be NULL: skipped) += G^T x and the panel's part of
 * d_normed = G W[v0:v1]. */
static void panel_gradient(vocab_loss_workspace *w, const float *x, const int32_t *targets, const float *weights,
                           int rows, const float *unembedding, float *d_unembedding, int p) {
    const int C = w->C, V = w->V, v0 = p * w->panel_size;
    const int width = v0 + w->panel_size < V ? w->panel_size : V - v0;
    float *panel = w->tile + v0;
    for (int r = 0; r < rows; r++) {
        float *g = panel + (size_t)r * V;
        const float scale = w->panel_scale[(size_t)p * w->block_rows + r];
#pragma omp simd
        for (int v = 0; v < width; v++) {
            const float value = g[v] * scale;
            g[v] = value < FLT_MIN ? 0.0f : value;
        }
        const int t = targets[r];
        if (t >= v0 && t < v0 + width) g[t - v0] -= weights[r];
    }
    const float *panel_weights = unembedding + (size_t)v0 * C;
    if (d_unembedding != NULL)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, width, C, rows, 1.0f, panel, V, x, C, 1.0f,
                    d_unembedding + (size_t)v0 * C, C);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, C, width, 1.0f, panel, V, panel_weights, C, 0.0f,
                w->panel_d_rows + (size_t)p * w->block_rows * C, C);
}

/* Step 4: d_block (rows, C) = the sum over panels, in panel order, of their
 * parts, in double (w->row_sums). */
static void rows_gradient(const vocab_loss_workspace *w, int rows, float *d_block) {
    const int C = w->C;
    const size_t panel_stride = (size_t)w->block_rows * C;
#pragma omp parallel for schedule(static) if (parallel_worth((size_t)rows * C * w->n_panels))
    for (int r = 0; r < rows; r++) {
        double *sum = w->row_sums + (size_t)r * C;
        const float *first = w->panel_d_rows + (size_t)r * C;
#pragma omp simd
        for (int c = 0; c < C; c++) sum[c] = first[c];
        for (int p = 1; p < w->n_panels; p++) {
            const float *part = first + p * panel_stride;
#pragma omp simd
            for (int c = 0; c < C; c++) sum[c] += part[c];
        }
#pragma omp simd
        for (int c = 0; c < C; c++) d_block[(size_t)r * C + c] = (float)sum[c];
    }
}

/* Checks the call's arguments against the workspace; LOUPE_ERROR_ARGUMENT
 * naming the first one at fault. */
static loupe_status check_arguments(const vocab_loss_workspace *w, const float *normed, const int32_t *targets,
                                    const float *row_weights, int N, const float *unembedding, int V, int C,
                                    const double *loss, const float *d_normed, const float *d_unembedding,
                                    loupe_error *error) {
    if (w == NULL) return error_set(error, LOUPE_ERROR_ARGUMENT, "vocab loss: no workspace");
    if (V != w->V || C != w->C)
        return error_set(error, LOUPE_ERROR_ARGUMENT,
                         "vocab loss: vocabulary %d and width %d, but the workspace is for %d and %d", V, C, w->V,
                         w->C);
    if (N < 0 || N > w->max_rows)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "vocab loss: %d rows, the workspace holds 0 .. %d", N,
                         w->max_rows);
    if (loss == NULL) return error_set(error, LOUPE_ERROR_ARGUMENT, "vocab loss: no loss to write");
    if (N == 0) return LOUPE_OK;
    if (normed == NULL || targets == NULL || row_weights == NULL || unembedding == NULL)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "vocab loss: a required array is NULL");
    if (d_normed == NULL && d_unembedding != NULL)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "vocab loss: the unembedding's gradient without the rows'");
    for (int n = 0; n < N; n++) {
        if (targets[n] < 0 || targets[n] >= V)
            return error_set(error, LOUPE_ERROR_ARGUMENT, "vocab loss: row %d's target %d is not in 0 .. %d", n,
                             (int)targets[n], V - 1);
        if (!(row_weights[n] >= 0.0f && row_weights[n] <= FLT_MAX))
            return error_set(error, LOUPE_ERROR_ARGUMENT, "vocab loss: row %d's weight %g is not finite and >= 0", n,
                             (double)row_weights[n]);
    }
    return LOUPE_OK;
}

loupe_status vocab_loss_forward_backward(vocab_loss_workspace *w, const float *normed, const int32_t *targets,
                                         const float *row_weights, int N, const float *unembedding, int V, int C,
                                         double *loss, float *ce, float *d_normed, float *d_unembedding,
                                         loupe_error *error) {
    loupe_status status =
        check_arguments(w, normed, targets, row_weights, N, unembedding, V, C, loss, d_normed, d_unembedding, error);
    if (status != LOUPE_OK) return status;
    *loss = 0.0;
    if (N == 0) return LOUPE_OK;
    const int previous_threads = matmul_set_threads(1);
    const bool worth = parallel_worth_products((size_t)w->block_rows * V * C) && w->n_panels > 1;
    double total = 0.0;
    for (int b0 = 0; b0 < N; b0 += w->block_rows) {
        const int rows = N - b0 < w->block_rows ? N - b0 : w->block_rows;
        const float *x = normed + (size_t)b0 * C;
        const int32_t *block_targets = targets + b0;
        const float *block_weights = row_weights + b0;
#pragma omp parallel for schedule(dynamic, 1) if (worth)
        for (int p = 0; p < w->n_panels; p++) panel_exps(w, x, block_targets, rows, unembedding, p);
        rows_normalise(w, block_weights, rows, ce != NULL ? ce + b0 : NULL, &total);
        if (d_normed == NULL) continue; /* the loss only */
#pragma omp parallel for schedule(dynamic, 1) if (worth)
        for (int p = 0; p < w->n_panels; p++)
            panel_gradient(w, x, block_targets, block_weights, rows, unembedding, d_unembedding, p);
        rows_gradient(w, rows, d_normed + (size_t)b0 * C);
    }
    matmul_set_threads(previous_threads);
    *loss = total;
    return LOUPE_OK;
}
