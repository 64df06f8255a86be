/*
 * lens_loss.c - the tuned lens's loss and gradient (lens_loss.h).
 *
 * For the n scored positions of a window the rows are stacked by position,
 * (n, R, C): the L layers' normed rows of position t, then for KL its final
 * row. Blocks of block_size positions go to the threads; for each chunk of
 * the unembedding a block's rows give one tile (block rows, chunk) of
 * logits, which is turned into exp(z - running max) in place and
 * multiplied back with the chunk's unembedding rows into each row's running
 * sum S while it is still in cache. Two matrix products per block and
 * chunk, one pass. Then per layer the norm's backward gives dL/du for
 * u = h + A h + b, and dA += du^T h, db += sum du.
 */
#include "train/lens_loss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/matmul.h"
#include "kernels/parallel.h"
#include "kernels/vector_exp.h"
#include "model/model.h"
#include "tuned/tuned_lens.h"
#include "util/cpu_features.h"
#include "util/error.h"

/* e^x is a normal float (above FLT_MIN, 1.18e-38) for x above ln FLT_MIN =
 * -87.34; below this the exps of the tile are flushed to 0. */
#define EXP_NORMAL_FLOOR -87.0f

struct lens_loss_workspace {
    const loupe_model *model;
    lens_loss_kind kind;
    int L, C, V, max_tokens, n_threads;
    int chunk_size, block_size; /* vocabulary entries per chunk, positions per block */
    float *translated; /* (L, n, C) u = h + A h + b of the scored positions */
    float *normed;     /* (n, R, C) per position t its R rows: final_norm(u_i) for i < L, the final row's (KL) */
    float *tiles;      /* (threads, block_size R, chunk_size) one tile of logits per thread */
    float *final_exps; /* (threads, chunk_size) exp(zf - mf) of one final row (KL) */
    double *row_max;   /* (n R) */
    double *row_sum;   /* (n R) sum of exp(z - max) */
    double *cross;     /* (n R) KL: sum exp(zf - mf) (zf - z) on the final row's scale; CE: the target's logit */
    float *grad_normed; /* (n, R, C) the rows' running S = sum exp(z - m) W, then dL/dnormed (lens rows) */
    float *grad_translated; /* (n, C) dL/du of one layer */
    float *transposed; /* (C, n) the same, transposed for the product with h */
    float *chunk_rows;  /* (chunk_size, C) the chunk's unembedding rows as float32 (F16/BF16 weights) */
};

/* Rows per position: the L lens rows, then the final row for KL. */
static int rows_per_position(const lens_loss_workspace *w) { return w->L + (w->kind == LENS_LOSS_KL ? 1 : 0); }

lens_loss_workspace *lens_loss_workspace_create(const loupe_model *model, int max_tokens, lens_loss_kind kind) {
    return lens_loss_workspace_create_sized(model, max_tokens, kind, LENS_LOSS_CHUNK, LENS_LOSS_BLOCK);
}

lens_loss_workspace *lens_loss_workspace_create_sized(const loupe_model *model, int max_tokens, lens_loss_kind kind,
                                                      int chunk_size, int block_size) {
    if (chunk_size < 1 || block_size < 1) return NULL;
    lens_loss_workspace *w = calloc(1, sizeof *w);
    if (w == NULL) return NULL;
    w->chunk_size = chunk_size, w->block_size = block_size;
    w->model = model;
    w->kind = kind;
    w->L = model->description.n_layer, w->C = model->description.n_embd, w->V = model->description.n_vocab;
    w->max_tokens = max_tokens;
    w->n_threads = parallel_max_threads();
    const size_t n = (size_t)max_tokens, C = (size_t)w->C, R = (size_t)rows_per_position(w), rows = n * R;
    const size_t threads = (size_t)w->n_threads;
    w->translated = malloc((size_t)w->L * n * C * sizeof(float));
    w->normed = malloc(rows * C * sizeof(float));
    const size_t chunk = (size_t)chunk_size, block = (size_t)block_size;
    w->tiles = malloc(threads * block * R * chunk * sizeof(float));
    w->final_exps = malloc(threads * chunk * sizeof(float));
    w->row_max = malloc(rows * sizeof(double));
    w->row_sum = malloc(rows * sizeof(double));
    w->cross = malloc(rows * sizeof(double));
    w->grad_normed = malloc(rows * C * sizeof(float));
    w->grad_translated = malloc(n * C * sizeof(float));
    w->transposed = malloc(n * C * sizeof(float));
    w->chunk_rows = malloc(chunk * C * sizeof(float));
    if (!w->translated || !w->normed || !w->tiles || !w->final_exps || !w->row_max || !w->row_sum || !w->cross ||
        !w->grad_normed || !w->grad_translated || !w->transposed || !w->chunk_rows) {
        lens_loss_workspace_free(w);
        return NULL;
    }
    return w;
}

void lens_loss_workspace_free(lens_loss_workspace *w) {
    if (w == NULL) return;
    free(w->translated);
    free(w->normed);
    free(w->tiles);
    free(w->final_exps);
    free(w->row_max);
    free(w->row_sum);
    free(w->cross);
    free(w->grad_normed);
    free(w->grad_translated);
    free(w->transposed);
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

/* The bodies below are inlined into position_chunk's two compilations
 * (plain and AVX-512), so that their omp simd loops use the vector width
 * of each. */
#define INLINE_BODY static inline __attribute__((always_inline))
#define LOSS_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq")))

/* row (C) *= factor, unless factor is 1. */
INLINE_BODY void scale_row(float *row, int C, double factor) {
    if (factor == 1.0) return;
#pragma omp simd
    for (int c = 0; c < C; c++) row[c] = (float)(row[c] * factor);
}

/* The largest of start and z (n). The reduction may run in any order (omp
 * simd): a maximum does not depend on it. */
INLINE_BODY float chunk_max(const float *z, int n, float start) {
    float top = start;
#pragma omp simd reduction(max : top)
    for (int v = 0; v < n; v++) top = z[v] > top ? z[v] : top;
    return top;
}

/* sum_v e_v (a_v - b_v) over n entries, in double. The sum may run in any
 * order (omp simd): all its terms are double. */
INLINE_BODY double chunk_cross(const float *e, const float *a, const float *b, int n) {
    double sum = 0.0;
#pragma omp simd reduction(+ : sum)
    for (int v = 0; v < n; v++) sum += (double)e[v] * ((double)a[v] - b[v]);
    return sum;
}

/* sum_v e_v over n entries in double, any order (omp simd). */
INLINE_BODY double chunk_sum(const float *e, int n) {
    double sum = 0.0;
#pragma omp simd reduction(+ : sum)
    for (int v = 0; v < n; v++) sum += e[v];
    return sum;
}

/* e (n) = exp(z - top), the max subtracted before any exp; e may equal z.
 * Where z - top is below EXP_NORMAL_FLOOR the result is 0 rather than a
 * subnormal float: terms under FLT_MIN x e^0 change no float32 sum of the
 * row (its max contributes 1), and subnormal operands slow every later
 * product with the tile (the matrix products) several times over. */
INLINE_BODY void exp_below_max(const float *z, float *e, int n, float top) {
    for (int v = 0; v < n; v++) {
        const float shifted = z[v] - top;
        e[v] = shifted < EXP_NORMAL_FLOOR ? -INFINITY : shifted;
    }
    vector_exp(e, e, (size_t)n);
}

/* The unembedding rows v0 .. v0 + chunk - 1 (chunk, C) as float32: in
 * place for F32 weights, else converted into w->chunk_rows. */
static const float *chunk_weights(lens_loss_workspace *w, int v0, int chunk) {
    const weight_view *unembedding = &w->model->unembedding;
    const float *in_place = weight_view_f32(unembedding);
    if (in_place != NULL) return in_place + (size_t)v0 * w->C;
    weight_view_to_f32(unembedding, v0, chunk, 0, w->C, w->chunk_rows, w->C);
    return w->chunk_rows;
}

/* Position t of a block against one chunk of the vocabulary [v0, v0 +
 * chunk): its rows' running max, sum and cross term brought up to date
 * from its tile of logits (R, chunk), and the tile turned into exp(z -
 * max), S of its rows rescaled to the new max. final_exps: chunk floats. */
INLINE_BODY void position_chunk_body(lens_loss_workspace *w, const int32_t *ids, int begin, int t, int v0, int chunk,
                                     float *position_tile, float *final_exps) {
    const int C = w->C, L = w->L, position_row = t * rows_per_position(w);
    const bool kl = w->kind == LENS_LOSS_KL;
    double final_scale = 0.0; /* KL: exp(old mf - new mf) */
    float *zf = position_tile + (size_t)L * chunk;
    if (kl) { /* the final row's new max and exp(zf - mf) into final_exps; its logits stay for the cross terms */
        const int r = position_row + L;
        const float top = chunk_max(zf, chunk, (float)w->row_max[r]);
        final_scale = w->row_max[r] == -INFINITY ? 0.0 : exp(w->row_max[r] - top);
        exp_below_max(zf, final_exps, chunk, top);
        w->row_max[r] = top;
    }
    for (int i = 0; i < L; i++) {
        const int r = position_row + i;
        float *z = position_tile + (size_t)i * chunk;
        if (kl) {
            w->cross[r] = w->cross[r] * final_scale + chunk_cross(final_exps, zf, z, chunk);
        } else {
            const int32_t target = ids[begin + t + 1];
            if (target >= v0 && target < v0 + chunk) w->cross[r] = z[target - v0];
        }
        const float top = chunk_max(z, chunk, (float)w->row_max[r]);
        const double rescale = w->row_max[r] == -INFINITY ? 0.0 : exp(w->row_max[r] - top);
        exp_below_max(z, z, chunk, top);
        w->row_sum[r] = w->row_sum[r] * rescale + chunk_sum(z, chunk);
        w->row_max[r] = top;
        scale_row(w->grad_normed + (size_t)r * C, C, rescale);
    }
    if (kl) {
        const int r = position_row + L;
        memcpy(zf, final_exps, (size_t)chunk * sizeof *zf);
        w->row_sum[r] = w->row_sum[r] * final_scale + chunk_sum(final_exps, chunk);
        scale_row(w->grad_normed + (size_t)r * C, C, final_scale);
    }
}

LOSS_AVX512 static void position_chunk_avx512(lens_loss_workspace *w, const int32_t *ids, int begin, int t, int v0,
                                              int chunk, float *position_tile, float *final_exps) {
    position_chunk_body(w, ids, begin, t, v0, chunk, position_tile, final_exps);
}

static void position_chunk_portable(lens_loss_workspace *w, const int32_t *ids, int begin, int t, int v0, int chunk,
                                    float *position_tile, float *final_exps) {
    position_chunk_body(w, ids, begin, t, v0, chunk, position_tile, final_exps);
}

/* One block of positions [t0, t1) against one chunk of the vocabulary
 * [v0, v0 + chunk) (weights: its rows, (chunk, C)), on the calling thread:
 * the tile (rows, chunk) of logits of the block's rows, position_chunk on
 * each position, then S (rows, C) += tile x weights. tile holds block_size
 * R chunk_size floats, final_exps chunk_size. The AVX-512 compilation where
 * util/cpu_features.h's level allows it. */
static void block_chunk(lens_loss_workspace *w, const int32_t *ids, int begin, int t0, int t1, int v0, int chunk,
                        const float *weights, float *tile, float *final_exps) {
    const int C = w->C, R = rows_per_position(w), first = t0 * R, rows = (t1 - t0) * R;
    const bool avx512 = cpu_features_level() >= CPU_LEVEL_AVX512;
    matmul_strided(tile, chunk, w->normed + (size_t)first * C, C, weights, C, rows, C, chunk, MATMUL_WEIGHT_OUT_IN,
                   1.0f);
    for (int t = t0; t < t1; t++) {
        float *position_tile = tile + (size_t)(t - t0) * R * chunk;
        if (avx512) position_chunk_avx512(w, ids, begin, t, v0, chunk, position_tile, final_exps);
        else position_chunk_portable(w, ids, begin, t, v0, chunk, position_tile, final_exps);
    }
    /* S (rows, C) += exp(z - m) (rows, chunk) x weights (chunk, C) */
    matmul_strided_add(w->grad_normed + (size_t)first * C, C, tile, chunk, weights, C, rows, chunk, C,
                       MATMUL_WEIGHT_IN_OUT, 1.0f);
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
    const int R = rows_per_position(w), rows = n * R;
    const model_description *description = &w->model->description;

    /* u = h + A h + b and its norm, per layer, and the final row's norm, each
     * normed through grad_normed (free until the pass) into its rows of
     * normed, R apart */
    for (int i = 0; i < R; i++) {
        const float *h = taps + ((size_t)i * T + begin) * C, *u = h; /* the final row as it is */
        if (i < L) {
            float *translated = w->translated + (size_t)i * n * C;
            loupe_tuned_lens_translate(lens, i, h, n, translated, NULL);
            u = translated;
        }
        loupe_model_final_norm(w->model, u, n, w->grad_normed);
        for (int t = 0; t < n; t++)
            memcpy(w->normed + ((size_t)t * R + i) * C, w->grad_normed + (size_t)t * C, (size_t)C * sizeof(float));
    }

    /* One pass over the vocabulary. Per row, a running max m and sum of
     * exp(z - m), and S = sum_v exp(z_v - m) W_v (C), rescaled whenever m
     * grows, so that at the end S / sum is the expectation of W under the
     * row's distribution: dL/dnormed = weight (E_q[W] - E_p[W]) without a
     * second pass (the online softmax of flash attention). For KL also
     * A = sum_v exp(zf_v - mf) (zf_v - z_v), kept on the final row's scale,
     * so that KL = A / sum_f - log Z_f + log Z_q. The rows go in blocks of
     * block_size positions, one block per thread at a time, so that a
     * block's tile of logits stays in the core's cache between its two
     * products. */
    for (int r = 0; r < rows; r++) w->row_max[r] = -INFINITY, w->row_sum[r] = 0.0, w->cross[r] = 0.0;
    memset(w->grad_normed, 0, (size_t)rows * C * sizeof(float)); /* S of every row */
    const int block_size = w->block_size, chunk_size = w->chunk_size;
    const int blocks = (n + block_size - 1) / block_size;
    for (int v0 = 0; v0 < V; v0 += chunk_size) {
        const int chunk = V - v0 < chunk_size ? V - v0 : chunk_size;
        const float *weights = chunk_weights(w, v0, chunk);
#pragma omp parallel for schedule(dynamic, 1) num_threads(w->n_threads) if (blocks > 1)
        for (int b = 0; b < blocks; b++) {
            const int thread = parallel_thread_index(), t0 = b * block_size;
            const int t1 = t0 + block_size < n ? t0 + block_size : n;
            block_chunk(w, ids, begin, t0, t1, v0, chunk, weights,
                        w->tiles + (size_t)thread * block_size * R * chunk_size,
                        w->final_exps + (size_t)thread * chunk_size);
        }
    }
    /* the losses, and dL/dnormed = weight (S / sum - S_f / sum_f), or - W_target for CE */
    for (int i = 0; i < L; i++) {
        double loss = 0.0;
        for (int t = 0; t < n; t++) {
            const int r = t * R + i;
            const double log_z = w->row_max[r] + log(w->row_sum[r]);
            float *row = w->grad_normed + (size_t)r * C;
            const float scale = (float)(weight / w->row_sum[r]);
            if (kl) {
                const int f = t * R + L;
                const double log_zf = w->row_max[f] + log(w->row_sum[f]);
                loss += w->cross[r] / w->row_sum[f] - log_zf + log_z;
                const float *final_row = w->grad_normed + (size_t)f * C;
                const float final_scale_row = (float)(weight / w->row_sum[f]);
                for (int c = 0; c < C; c++) row[c] = scale * row[c] - final_scale_row * final_row[c];
            } else {
                loss += log_z - w->cross[r];
                float *target_row = w->transposed; /* free until the backward below */
                weight_view_to_f32(&w->model->unembedding, ids[begin + t + 1], 1, 0, C, target_row, C);
                for (int c = 0; c < C; c++) row[c] = scale * row[c] - (float)weight * target_row[c];
            }
        }
        loss_sums[i] += weight * loss;
    }

    /* through the norm to u, then to A and b */
    for (int i = 0; i < L; i++) {
        const float *u = w->translated + (size_t)i * n * C;
#pragma omp parallel for schedule(static)
        for (int t = 0; t < n; t++)
            norm_backward(description, w->model->final_norm_weight, u + (size_t)t * C,
                          w->grad_normed + ((size_t)t * R + i) * C, C, w->grad_translated + (size_t)t * C);
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
