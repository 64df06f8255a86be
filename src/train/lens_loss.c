/*
 * lens_loss.c - the tuned lens's loss and gradient (lens_loss.h).
 *
 * For the n scored positions of a window the rows of every layer are
 * stacked, (L n, C), with the final row after them for KL, (n, C); each
 * chunk of the unembedding gives one tile (rows, chunk) of logits. Pass 1
 * keeps a running max and sum of exps per row (the log-normaliser). Pass 2
 * computes the tile again, turns it into dL/dz = weight (q - p) (p the
 * final distribution, or the target's one-hot for CE) while adding up the
 * loss, and folds it into dL/dnormed (L n, C) += dz Wchunk. Then per layer
 * the norm's backward gives dL/du for u = h + A h + b, and dA += du^T h,
 * db += sum du.
 */
#include "train/lens_loss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/matmul.h"
#include "kernels/vector_exp.h"
#include "model/model.h"
#include "tuned/tuned_lens.h"
#include "util/error.h"

struct lens_loss_workspace {
    const loupe_model *model;
    lens_loss_kind kind;
    int L, C, V, max_tokens;
    float *translated; /* (L, n, C) u = h + A h + b of the scored positions */
    float *normed;     /* (L n + n, C) final_norm(u), then the final row's normed (KL) */
    float *tile;       /* (L n + n, CHUNK) */
    double *row_max;   /* (L n + n) */
    double *row_sum;   /* (L n + n) sum of exp(z - max) */
    float *grad_normed; /* (L n, C) dL/dnormed */
    float *grad_translated; /* (n, C) dL/du of one layer */
    float *transposed; /* (C, n) the same, transposed for the product with h */
    float *final_probs; /* (n, CHUNK) p of the final row, for one chunk (KL) */
};

lens_loss_workspace *lens_loss_workspace_create(const loupe_model *model, int max_tokens, lens_loss_kind kind) {
    lens_loss_workspace *w = calloc(1, sizeof *w);
    if (w == NULL) return NULL;
    w->model = model;
    w->kind = kind;
    w->L = model->description.n_layer, w->C = model->description.n_embd, w->V = model->description.n_vocab;
    w->max_tokens = max_tokens;
    size_t n = (size_t)max_tokens, C = (size_t)w->C, rows = (size_t)(w->L + 1) * n;
    w->translated = malloc((size_t)w->L * n * C * sizeof(float));
    w->normed = malloc(rows * C * sizeof(float));
    w->tile = malloc(rows * LENS_LOSS_CHUNK * sizeof(float));
    w->row_max = malloc(rows * sizeof(double));
    w->row_sum = malloc(rows * sizeof(double));
    w->grad_normed = malloc((size_t)w->L * n * C * sizeof(float));
    w->grad_translated = malloc(n * C * sizeof(float));
    w->transposed = malloc(n * C * sizeof(float));
    w->final_probs = malloc(n * LENS_LOSS_CHUNK * sizeof(float));
    if (!w->final_probs || !w->translated || !w->normed || !w->tile || !w->row_max || !w->row_sum || !w->grad_normed ||
        !w->grad_translated || !w->transposed) {
        lens_loss_workspace_free(w);
        return NULL;
    }
    return w;
}

void lens_loss_workspace_free(lens_loss_workspace *w) {
    if (w == NULL) return;
    free(w->translated);
    free(w->normed);
    free(w->tile);
    free(w->row_max);
    free(w->row_sum);
    free(w->grad_normed);
    free(w->grad_translated);
    free(w->transposed);
    free(w->final_probs);
    free(w);
}

/* The backward of the final norm on one row: du (C) from u (C) and dy (C). */
static void norm_backward(const model_description *description, const float *weight, const float *u,
                          const float *dy, int C, float *du) {
    double mean = 0.0;
    if (description->norm == NORM_LAYER) {
        for (int c = 0; c < C; c++) mean += u[c];
        mean /= C;
    }
    double spread = 0.0;
    for (int c = 0; c < C; c++) spread += (u[c] - mean) * (u[c] - mean);
    double inverse = 1.0 / sqrt(spread / C + description->norm_eps);
    double offset = description->norm == NORM_RMS ? description->norm_weight_offset : 0.0;
    double mean_dx = 0.0, mean_dx_x = 0.0; /* means of dxhat and dxhat * xhat */
    for (int c = 0; c < C; c++) {
        double dx = (double)dy[c] * (weight[c] + offset), x = (u[c] - mean) * inverse;
        mean_dx += dx;
        mean_dx_x += dx * x;
    }
    mean_dx /= C;
    mean_dx_x /= C;
    if (description->norm != NORM_LAYER) mean_dx = 0.0;
    for (int c = 0; c < C; c++) {
        double dx = (double)dy[c] * (weight[c] + offset), x = (u[c] - mean) * inverse;
        du[c] = (float)(inverse * (dx - mean_dx - x * mean_dx_x));
    }
}

/* The tile (rows, chunk) of logits of the normed rows for vocabulary
 * entries v0 .. v0 + chunk - 1. */
static void chunk_logits(const lens_loss_workspace *w, int rows, int v0, int chunk) {
    matmul(w->tile, w->normed, w->model->unembedding + (size_t)v0 * w->C, NULL, rows, w->C, chunk,
           MATMUL_WEIGHT_OUT_IN, false);
}

loupe_status lens_loss_accumulate(lens_loss_workspace *w, const loupe_tuned_lens *lens, const float *taps,
                                  const int32_t *ids, int T, int begin, int end, double weight, double *loss_sums,
                                  float *grad_weights, float *grad_biases, loupe_error *error) {
    const int L = w->L, C = w->C, V = w->V, n = end - begin;
    if (lens->n_layer != L || lens->n_embd != C)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "the lens has %d translators of width %d, the model %d of %d",
                         lens->n_layer, lens->n_embd, L, C);
    if (begin < 0 || end > T || n < 0 || n > w->max_tokens || (w->kind == LENS_LOSS_CE && end > T - 1))
        return error_set(error, LOUPE_ERROR_ARGUMENT, "positions %d .. %d of a window of %d do not fit", begin, end, T);
    if (n == 0) return LOUPE_OK;
    const bool kl = w->kind == LENS_LOSS_KL;
    const int lens_rows = L * n, rows = lens_rows + (kl ? n : 0);
    const model_description *description = &w->model->description;

    /* u = h + A h + b and its norm, per layer; the final row's norm */
    for (int i = 0; i < L; i++) {
        float *u = w->translated + (size_t)i * n * C;
        loupe_tuned_lens_translate(lens, i, taps + ((size_t)i * T + begin) * C, n, u, NULL);
        loupe_model_final_norm(w->model, u, n, w->normed + (size_t)i * n * C);
    }
    if (kl) loupe_model_final_norm(w->model, taps + ((size_t)L * T + begin) * C, n, w->normed + (size_t)lens_rows * C);

    /* pass 1: the log-normaliser of every row */
    for (int r = 0; r < rows; r++) w->row_max[r] = -INFINITY, w->row_sum[r] = 0.0;
    for (int v0 = 0; v0 < V; v0 += LENS_LOSS_CHUNK) {
        const int chunk = V - v0 < LENS_LOSS_CHUNK ? V - v0 : LENS_LOSS_CHUNK;
        chunk_logits(w, rows, v0, chunk);
#pragma omp parallel for schedule(static)
        for (int r = 0; r < rows; r++) {
            float *z = w->tile + (size_t)r * chunk;
            float top = (float)w->row_max[r];
            for (int v = 0; v < chunk; v++)
                if (z[v] > top) top = z[v];
            double sum = w->row_max[r] == -INFINITY ? 0.0 : w->row_sum[r] * exp(w->row_max[r] - top);
            for (int v = 0; v < chunk; v++) z[v] -= top; /* max subtracted before any exp */
            vector_exp(z, z, (size_t)chunk);
            for (int v = 0; v < chunk; v++) sum += z[v];
            w->row_max[r] = top, w->row_sum[r] = sum;
        }
    }
    for (int r = 0; r < rows; r++) w->row_sum[r] = w->row_max[r] + log(w->row_sum[r]); /* now log Z */
    const double *log_normaliser = w->row_sum;

    /* pass 2: the loss, dz and dL/dnormed */
    memset(w->grad_normed, 0, (size_t)lens_rows * C * sizeof(float));
    double *layer_loss = calloc((size_t)L, sizeof(double));
    if (layer_loss == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for the lens loss");
    for (int v0 = 0; v0 < V; v0 += LENS_LOSS_CHUNK) {
        const int chunk = V - v0 < LENS_LOSS_CHUNK ? V - v0 : LENS_LOSS_CHUNK;
        chunk_logits(w, rows, v0, chunk);
        if (kl) { /* the final row's log p (in place) and p, once for every layer */
#pragma omp parallel for schedule(static)
            for (int t = 0; t < n; t++) {
                float *log_p = w->tile + (size_t)(lens_rows + t) * chunk;
                const float log_zf = (float)log_normaliser[lens_rows + t];
                for (int v = 0; v < chunk; v++) log_p[v] -= log_zf;
                vector_exp(log_p, w->final_probs + (size_t)t * chunk, (size_t)chunk);
            }
        }
        for (int i = 0; i < L; i++) {
            double loss = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : loss)
            for (int t = 0; t < n; t++) {
                float *z = w->tile + (size_t)(i * n + t) * chunk; /* logits, then log q, then dz */
                const float log_z = (float)log_normaliser[i * n + t];
                for (int v = 0; v < chunk; v++) z[v] -= log_z;
                if (kl) {
                    const float *log_p = w->tile + (size_t)(lens_rows + t) * chunk;
                    const float *p = w->final_probs + (size_t)t * chunk;
                    double sum = 0.0;
                    for (int v = 0; v < chunk; v++) sum += (double)p[v] * (log_p[v] - z[v]);
                    loss += sum;
                    vector_exp(z, z, (size_t)chunk);
                    const float scale = (float)weight;
                    for (int v = 0; v < chunk; v++) z[v] = scale * (z[v] - p[v]);
                } else {
                    const int32_t target = ids[begin + t + 1];
                    if (target >= v0 && target < v0 + chunk) loss -= z[target - v0];
                    vector_exp(z, z, (size_t)chunk);
                    if (target >= v0 && target < v0 + chunk) z[target - v0] -= 1.0f;
                    const float scale = (float)weight;
                    for (int v = 0; v < chunk; v++) z[v] *= scale;
                }
            }
            layer_loss[i] += loss;
        }
        /* dL/dnormed (L n, C) += dz (L n, chunk) x Wchunk (chunk, C) */
        matmul(w->grad_normed, w->tile, w->model->unembedding + (size_t)v0 * C, NULL, lens_rows, chunk, C,
               MATMUL_WEIGHT_IN_OUT, true);
    }
    for (int i = 0; i < L; i++) loss_sums[i] += weight * layer_loss[i];
    free(layer_loss);

    /* through the norm to u, then to A and b */
    for (int i = 0; i < L; i++) {
        const float *u = w->translated + (size_t)i * n * C;
#pragma omp parallel for schedule(static)
        for (int t = 0; t < n; t++)
            norm_backward(description, w->model->final_norm_weight, u + (size_t)t * C,
                          w->grad_normed + ((size_t)i * n + t) * C, C, w->grad_translated + (size_t)t * C);
        for (int t = 0; t < n; t++)
            for (int c = 0; c < C; c++) {
                w->transposed[(size_t)c * n + t] = w->grad_translated[(size_t)t * C + c];
                grad_biases[(size_t)i * C + c] += w->grad_translated[(size_t)t * C + c];
            }
        /* dA (C, C) += du^T (C, n) x h (n, C) */
        matmul(grad_weights + (size_t)i * C * C, w->transposed, taps + ((size_t)i * T + begin) * C, NULL, C, n, C,
               MATMUL_WEIGHT_IN_OUT, true);
    }
    return LOUPE_OK;
}
