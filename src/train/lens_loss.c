/*
 * lens_loss.c - the tuned lens's loss and gradient (lens_loss.h).
 *
 * For the n scored positions of a window the rows of every layer are
 * stacked, (L n, C), with the final row after them for KL, (n, C); each
 * chunk of the unembedding gives one tile (rows, chunk) of logits, which is
 * turned into exp(z - running max) in place and multiplied back with the
 * chunk's unembedding rows into each row's running sum S. Two matrix
 * products per chunk, one pass. Then per layer the norm's backward gives
 * dL/du for u = h + A h + b, and dA += du^T h, db += sum du.
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

/* e^x is a normal float (above FLT_MIN, 1.18e-38) for x above ln FLT_MIN =
 * -87.34; below this the exps of the tile are flushed to 0. */
#define EXP_NORMAL_FLOOR -87.0f

struct lens_loss_workspace {
    const loupe_model *model;
    lens_loss_kind kind;
    int L, C, V, max_tokens;
    float *translated; /* (L, n, C) u = h + A h + b of the scored positions */
    float *normed;     /* (L n + n, C) final_norm(u), then the final row's normed (KL) */
    float *tile;       /* (L n + n, CHUNK) */
    double *row_max;   /* (L n + n) */
    double *row_sum;   /* (L n + n) sum of exp(z - max) */
    float *grad_normed; /* (L n + n, C) the rows' running S = sum exp(z - m) W, then dL/dnormed (L n rows) */
    float *grad_translated; /* (n, C) dL/du of one layer */
    float *transposed; /* (C, n) the same, transposed for the product with h */
    float *final_probs; /* (n, CHUNK) exp(zf - mf) of the final row, for one chunk (KL) */
    float *chunk_rows;  /* (CHUNK, C) the chunk's unembedding rows as float32 (F16/BF16 weights) */
    const float *chunk; /* (chunk, C) the current chunk's rows: in place for F32, else chunk_rows */
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
    w->grad_normed = malloc(rows * C * sizeof(float));
    w->grad_translated = malloc(n * C * sizeof(float));
    w->transposed = malloc(n * C * sizeof(float));
    w->final_probs = malloc(n * LENS_LOSS_CHUNK * sizeof(float));
    w->chunk_rows = malloc((size_t)LENS_LOSS_CHUNK * C * sizeof(float));
    if (!w->final_probs || !w->chunk_rows || !w->translated || !w->normed || !w->tile || !w->row_max || !w->row_sum || !w->grad_normed ||
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
    free(w->chunk_rows);
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

/* e (n) = exp(z - top), the max subtracted before any exp; e may equal z.
 * Where z - top is below EXP_NORMAL_FLOOR the result is 0 rather than a
 * subnormal float: terms under FLT_MIN x e^0 change no float32 sum of the
 * row (its max contributes 1), and subnormal operands slow every later
 * product with the tile (the matrix products) several times over. */
static void exp_below_max(const float *z, float *e, int n, float top) {
    for (int v = 0; v < n; v++) {
        const float shifted = z[v] - top;
        e[v] = shifted < EXP_NORMAL_FLOOR ? -INFINITY : shifted;
    }
    vector_exp(e, e, (size_t)n);
}

/* Points w->chunk at the unembedding rows v0 .. v0 + chunk - 1 as float32
 * and computes the tile (rows, chunk) of logits of the normed rows. */
static void chunk_logits(lens_loss_workspace *w, int rows, int v0, int chunk) {
    const weight_view *unembedding = &w->model->unembedding;
    const float *in_place = weight_view_f32(unembedding);
    if (in_place != NULL) {
        w->chunk = in_place + (size_t)v0 * w->C;
    } else {
        weight_view_to_f32(unembedding, v0, chunk, 0, w->C, w->chunk_rows, w->C);
        w->chunk = w->chunk_rows;
    }
    matmul(w->tile, w->normed, w->chunk, NULL, rows, w->C, chunk, MATMUL_WEIGHT_OUT_IN, false);
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

    /* One pass over the vocabulary. Per row, a running max m and sum of
     * exp(z - m), and S = sum_v exp(z_v - m) W_v (C), rescaled whenever m
     * grows, so that at the end S / sum is the expectation of W under the
     * row's distribution: dL/dnormed = weight (E_q[W] - E_p[W]) without a
     * second pass (the online softmax of flash attention). For KL also
     * A = sum_v exp(zf_v - mf) (zf_v - z_v), kept on the final row's scale,
     * so that KL = A / sum_f - log Z_f + log Z_q. */
    double *cross = calloc((size_t)lens_rows, sizeof(double));   /* (L n) A, or the target's logit for CE */
    double *final_scale = calloc((size_t)n, sizeof(double));     /* (n) exp(old mf - new mf) of the chunk */
    if (cross == NULL || final_scale == NULL) {
        free(cross);
        free(final_scale);
        return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for the lens loss");
    }
    for (int r = 0; r < rows; r++) w->row_max[r] = -INFINITY, w->row_sum[r] = 0.0;
    memset(w->grad_normed, 0, (size_t)rows * C * sizeof(float)); /* S of every row */
    for (int v0 = 0; v0 < V; v0 += LENS_LOSS_CHUNK) {
        const int chunk = V - v0 < LENS_LOSS_CHUNK ? V - v0 : LENS_LOSS_CHUNK;
        chunk_logits(w, rows, v0, chunk);
        if (kl) { /* the final rows' new max and exp(zf - mf) into final_probs; their logits stay for A */
#pragma omp parallel for schedule(static)
            for (int t = 0; t < n; t++) {
                const int r = lens_rows + t;
                const float *zf = w->tile + (size_t)r * chunk;
                float top = (float)w->row_max[r];
                for (int v = 0; v < chunk; v++) top = zf[v] > top ? zf[v] : top;
                final_scale[t] = w->row_max[r] == -INFINITY ? 0.0 : exp(w->row_max[r] - top);
                exp_below_max(zf, w->final_probs + (size_t)t * chunk, chunk, top);
                w->row_max[r] = top;
            }
        }
#pragma omp parallel for schedule(static)
        for (int r = 0; r < lens_rows; r++) {
            const int t = r % n;
            float *z = w->tile + (size_t)r * chunk;
            if (kl) {
                const float *zf = w->tile + (size_t)(lens_rows + t) * chunk, *e = w->final_probs + (size_t)t * chunk;
                double sum = 0.0;
                for (int v = 0; v < chunk; v++) sum += (double)e[v] * (zf[v] - z[v]);
                cross[r] = cross[r] * final_scale[t] + sum;
            } else {
                const int32_t target = ids[begin + t + 1];
                if (target >= v0 && target < v0 + chunk) cross[r] = z[target - v0];
            }
            float top = (float)w->row_max[r];
            for (int v = 0; v < chunk; v++) top = z[v] > top ? z[v] : top;
            const double rescale = w->row_max[r] == -INFINITY ? 0.0 : exp(w->row_max[r] - top);
            exp_below_max(z, z, chunk, top);
            double sum = 0.0;
            for (int v = 0; v < chunk; v++) sum += z[v];
            w->row_sum[r] = w->row_sum[r] * rescale + sum;
            w->row_max[r] = top;
            float *row_s = w->grad_normed + (size_t)r * C;
            for (int c = 0; c < C; c++) row_s[c] = (float)(row_s[c] * rescale);
        }
        if (kl) {
#pragma omp parallel for schedule(static)
            for (int t = 0; t < n; t++) {
                const int r = lens_rows + t;
                float *zf = w->tile + (size_t)r * chunk;
                const float *e = w->final_probs + (size_t)t * chunk;
                double sum = 0.0;
                for (int v = 0; v < chunk; v++) sum += (zf[v] = e[v]);
                w->row_sum[r] = w->row_sum[r] * final_scale[t] + sum;
                float *row_s = w->grad_normed + (size_t)r * C;
                for (int c = 0; c < C; c++) row_s[c] = (float)(row_s[c] * final_scale[t]);
            }
        }
        /* S (rows, C) += exp(z - m) (rows, chunk) x Wchunk (chunk, C) */
        matmul(w->grad_normed, w->tile, w->chunk, NULL, rows, chunk, C,
               MATMUL_WEIGHT_IN_OUT, true);
    }
    /* the losses, and dL/dnormed = weight (S / sum - S_f / sum_f), or - W_target for CE */
    for (int i = 0; i < L; i++) {
        double loss = 0.0;
        for (int t = 0; t < n; t++) {
            const int r = i * n + t;
            const double log_z = w->row_max[r] + log(w->row_sum[r]);
            float *row = w->grad_normed + (size_t)r * C;
            const float scale = (float)(weight / w->row_sum[r]);
            if (kl) {
                const int f = lens_rows + t;
                const double log_zf = w->row_max[f] + log(w->row_sum[f]);
                loss += cross[r] / w->row_sum[f] - log_zf + log_z;
                const float *final_row = w->grad_normed + (size_t)f * C;
                const float final_scale_row = (float)(weight / w->row_sum[f]);
                for (int c = 0; c < C; c++) row[c] = scale * row[c] - final_scale_row * final_row[c];
            } else {
                loss += log_z - cross[r];
                float *target_row = w->transposed; /* free until the backward below */
                weight_view_to_f32(&w->model->unembedding, ids[begin + t + 1], 1, 0, C, target_row, C);
                for (int c = 0; c < C; c++) row[c] = scale * row[c] - (float)weight * target_row[c];
            }
        }
        loss_sums[i] += weight * loss;
    }
    free(cross);
    free(final_scale);

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
