/*
 * lens_track.c - the tracked tokens of every cell (lens_track.h).
 *
 * A tracked token needs its rank, so every logit of its row: the rows are
 * projected again, a block of them at a time, through the same final norm
 * and unembedding as the sweep. This costs one more projection of the lens,
 * paid only when tokens are tracked.
 */
#include <math.h>
#include <stdlib.h>

#include "kernels/matmul.h"
#include "lens/lens_track.h"
#include "model/model.h"
#include "util/error.h"

/* Rows (of R x T) projected at once: (BLOCK, V) floats of logits. */
enum { TRACK_ROW_BLOCK = 32 };

loupe_status lens_track_check(const int32_t *track_ids, int n_track, int n_vocab, loupe_error *error) {
    if (n_track < 0 || n_track > LOUPE_LENS_MAX_TRACK)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "n_track must be 0 .. %d, not %d", LOUPE_LENS_MAX_TRACK,
                         n_track);
    for (int k = 0; k < n_track; k++)
        if (track_ids[k] < 0 || track_ids[k] >= n_vocab)
            return error_set(error, LOUPE_ERROR_ARGUMENT, "track_ids[%d]: %d is not a token id below %d", k,
                             (int)track_ids[k], n_vocab);
    return LOUPE_OK;
}

/* The standing of token id in one row of logits (V). log_partition is the
 * row's log-sum-exp. */
static loupe_lens_token token_in_row(const float *logits, int V, double log_partition, int32_t id) {
    int32_t above = 0;
    for (int v = 0; v < V; v++) above += logits[v] > logits[id];
    loupe_lens_token token = {.id = id, .logit = logits[id], .rank = above + 1};
    token.log_prob = isfinite(log_partition) ? (float)((double)logits[id] - log_partition) : -INFINITY;
    token.prob = isfinite(log_partition) ? (float)exp((double)logits[id] - log_partition) : 0.0f;
    return token;
}

/* log sum exp of logits (V), shifted by the row's maximum; -inf entries add
 * nothing. */
static double log_sum_exp(const float *logits, int V) {
    double max_logit = -INFINITY;
    for (int v = 0; v < V; v++)
        if (logits[v] > max_logit) max_logit = logits[v];
    if (!isfinite(max_logit)) return max_logit;
    double sum = 0.0;
    for (int v = 0; v < V; v++) sum += exp((double)logits[v] - max_logit);
    return max_logit + log(sum);
}

loupe_status lens_track_cells(const loupe_model *model, const float *taps, int R, int T, const int32_t *track_ids,
                              int n_track, loupe_lens_token *tracked, loupe_error *error) {
    if (n_track == 0) return LOUPE_OK;
    const int C = model->description.n_embd, V = model->description.n_vocab;
    const size_t total = (size_t)R * T;
    float *normed = malloc((size_t)TRACK_ROW_BLOCK * C * sizeof(float));
    float *logits = malloc((size_t)TRACK_ROW_BLOCK * V * sizeof(float));
    if (normed == NULL || logits == NULL) {
        free(normed);
        free(logits);
        return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for the tracked tokens");
    }
    /* taps are (R, T, C) row-major, so cell (r, t) is flat row r T + t. */
    for (size_t first = 0; first < total; first += TRACK_ROW_BLOCK) {
        int n = total - first < TRACK_ROW_BLOCK ? (int)(total - first) : TRACK_ROW_BLOCK;
        loupe_model_final_norm(model, taps + first * C, n, normed);
        loupe_model_unembed(model, normed, n, logits);
#pragma omp parallel for schedule(static)
        for (int i = 0; i < n; i++) {
            const float *row = logits + (size_t)i * V;
            double log_partition = log_sum_exp(row, V);
            for (int k = 0; k < n_track; k++)
                tracked[(first + i) * n_track + k] = token_in_row(row, V, log_partition, track_ids[k]);
        }
    }
    free(normed);
    free(logits);
    return LOUPE_OK;
}
