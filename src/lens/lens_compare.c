/*
 * lens_compare.c - two models' lenses side by side: per row and position,
 * the KL between their lens distributions in both directions, and where each
 * puts the true next token and its own top-1. Both models run on the same
 * ids; their taps are projected a block of positions at a time (never
 * (R, T, V) floats), each cell reduced in double with max-subtracted
 * log-sum-exp (docs/METRICS.md).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lens/lens_taps.h"
#include "loupe.h"
#include "util/error.h"

struct loupe_compare_result {
    int n_rows, n_positions;   /* R, T */
    char (*row_names)[32];     /* (R) */
    int32_t *ids;              /* (T) */
    loupe_compare_cell *cells; /* (R, T) */
};

/* Positions projected at once: two (B, V) blocks of logits. */
enum { COMPARE_POSITION_BLOCK = 16 };

/* One distribution's log normaliser: max + log(sum exp(logit - max)), in double. */
static double log_normaliser(const float *logits, int V) {
    float max = -INFINITY;
    for (int v = 0; v < V; v++)
        if (logits[v] > max) max = logits[v];
    double sum = 0.0;
    for (int v = 0; v < V; v++) sum += exp((double)logits[v] - max);
    return max + log(sum);
}

/* The standing of token id in logits (V) normalised by log_z. */
static loupe_lens_token token_in(const float *logits, int V, double log_z, int32_t id) {
    loupe_lens_token token = {.id = id, .logit = 0.0f, .prob = 0.0f, .rank = 0, .log_prob = 0.0f};
    if (id < 0) return token;
    int32_t above = 0;
    for (int v = 0; v < V; v++) above += logits[v] > logits[id];
    token.logit = logits[id];
    token.prob = (float)exp((double)logits[id] - log_z);
    token.log_prob = (float)((double)logits[id] - log_z);
    token.rank = above + 1;
    return token;
}

/* The top-1 of logits (V), the smaller id on ties. */
static int32_t top_of(const float *logits, int V) {
    int32_t best = 0;
    for (int v = 1; v < V; v++)
        if (logits[v] > logits[best]) best = v;
    return best;
}

/* One cell from the two rows of logits, a and b (V each). */
static void compare_cell(const float *a, const float *b, int V, int32_t target, loupe_compare_cell *cell) {
    double log_za = log_normaliser(a, V), log_zb = log_normaliser(b, V);
    double kl_ab = 0.0, kl_ba = 0.0;
    for (int v = 0; v < V; v++) {
        double log_pa = a[v] - log_za, log_pb = b[v] - log_zb;
        double difference = log_pa - log_pb;
        kl_ab += exp(log_pa) * difference;
        kl_ba -= exp(log_pb) * difference;
    }
    /* each sum is >= 0 in exact arithmetic; rounding may leave a -1e-9 */
    cell->kl_ab = (float)(kl_ab > 0.0 ? kl_ab : 0.0);
    cell->kl_ba = (float)(kl_ba > 0.0 ? kl_ba : 0.0);
    cell->target_a = token_in(a, V, log_za, target);
    cell->target_b = token_in(b, V, log_zb, target);
    cell->top_a = token_in(a, V, log_za, top_of(a, V));
    cell->top_b = token_in(b, V, log_zb, top_of(b, V));
}

/* The taps of one model on ids (T): (R, T, C), caller frees; NULL with
 * error filled. */
static float *model_taps(const loupe_model *model, const int32_t *ids, int T, int R, bool subblocks,
                         loupe_error *error) {
    loupe_model_info info;
    loupe_model_get_info(model, &info);
    float *taps = malloc((size_t)R * T * info.n_embd * sizeof(float));
    if (taps == NULL) {
        error_set(error, LOUPE_ERROR_MEMORY, "out of memory for the taps of %d tokens", T);
        return NULL;
    }
    if (lens_taps_collect(model, ids, T, subblocks, false, taps, error) != LOUPE_OK) {
        free(taps);
        return NULL;
    }
    return taps;
}

/* Checks that the two models have the same rows and vocabulary. */
static loupe_status check_models(const loupe_model_info *a, const loupe_model_info *b, loupe_error *error) {
    if (a->n_layer != b->n_layer)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "the models have %d and %d layers: the lens rows must match",
                         a->n_layer, b->n_layer);
    if (a->n_vocab != b->n_vocab)
        return error_set(error, LOUPE_ERROR_ARGUMENT,
                         "the models have vocabularies of %d and %d tokens: they need the same tokenizer", a->n_vocab,
                         b->n_vocab);
    return LOUPE_OK;
}

/* Fills the result's cells from the two models' taps (R, T, CA) and (R, T, CB). */
static loupe_status compare_taps(const loupe_model *model_a, const loupe_model *model_b, const float *taps_a,
                                 const float *taps_b, loupe_compare_result *result, loupe_error *error) {
    loupe_model_info a, b;
    loupe_model_get_info(model_a, &a);
    loupe_model_get_info(model_b, &b);
    const int R = result->n_rows, T = result->n_positions, V = a.n_vocab, B = COMPARE_POSITION_BLOCK;
    float *logits_a = malloc((size_t)B * V * sizeof(float)), *logits_b = malloc((size_t)B * V * sizeof(float));
    loupe_status status = LOUPE_OK;
    if (logits_a == NULL || logits_b == NULL)
        status = error_set(error, LOUPE_ERROR_MEMORY, "out of memory for the logits of %d positions", B);
    for (int r = 0; r < R && status == LOUPE_OK; r++)
        for (int t0 = 0; t0 < T && status == LOUPE_OK; t0 += B) {
            int n = T - t0 < B ? T - t0 : B;
            status = loupe_model_logits(model_a, taps_a + ((size_t)r * T + t0) * a.n_embd, n, logits_a, error);
            if (status == LOUPE_OK)
                status = loupe_model_logits(model_b, taps_b + ((size_t)r * T + t0) * b.n_embd, n, logits_b, error);
            if (status != LOUPE_OK) break;
#pragma omp parallel for schedule(static)
            for (int i = 0; i < n; i++) {
                int t = t0 + i;
                compare_cell(logits_a + (size_t)i * V, logits_b + (size_t)i * V, V,
                             t + 1 < T ? result->ids[t + 1] : -1, &result->cells[(size_t)r * T + t]);
            }
        }
    free(logits_a);
    free(logits_b);
    return status;
}

loupe_status loupe_lens_compare(const loupe_model *model_a, const loupe_model *model_b, const int32_t *ids,
                                int n_tokens, bool subblocks, loupe_compare_result **result_out, loupe_error *error) {
    *result_out = NULL;
    error_clear(error);
    loupe_model_info a, b;
    loupe_model_get_info(model_a, &a);
    loupe_model_get_info(model_b, &b);
    loupe_status status = check_models(&a, &b, error);
    if (status != LOUPE_OK) return status;
    if (n_tokens < 1) return error_set(error, LOUPE_ERROR_ARGUMENT, "the text has no tokens");
    const int R = loupe_lens_row_count(a.n_layer, subblocks), T = n_tokens;
    loupe_compare_result *result = calloc(1, sizeof *result);
    if (result != NULL) {
        result->n_rows = R, result->n_positions = T;
        result->row_names = calloc((size_t)R, sizeof *result->row_names);
        result->ids = malloc((size_t)T * sizeof *result->ids);
        result->cells = calloc((size_t)R * T, sizeof *result->cells);
    }
    if (result == NULL || !result->row_names || !result->ids || !result->cells) {
        loupe_compare_free(result);
        return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for the comparison of %d tokens", T);
    }
    memcpy(result->ids, ids, (size_t)T * sizeof *ids);
    for (int r = 0; r < R; r++)
        loupe_lens_row_label(a.n_layer, subblocks, r, result->row_names[r], sizeof result->row_names[0]);
    float *taps_a = model_taps(model_a, ids, T, R, subblocks, error);
    float *taps_b = taps_a ? model_taps(model_b, ids, T, R, subblocks, error) : NULL;
    status = taps_b ? compare_taps(model_a, model_b, taps_a, taps_b, result, error) : error->status;
    free(taps_a);
    free(taps_b);
    if (status != LOUPE_OK) {
        loupe_compare_free(result);
        return status;
    }
    *result_out = result;
    return LOUPE_OK;
}

void loupe_compare_free(loupe_compare_result *result) {
    if (result == NULL) return;
    free(result->row_names);
    free(result->ids);
    free(result->cells);
    free(result);
}

int loupe_compare_n_rows(const loupe_compare_result *result) { return result->n_rows; }

int loupe_compare_n_positions(const loupe_compare_result *result) { return result->n_positions; }

const char *loupe_compare_row_name(const loupe_compare_result *result, int row) {
    return row >= 0 && row < result->n_rows ? result->row_names[row] : NULL;
}

const int32_t *loupe_compare_ids(const loupe_compare_result *result) { return result->ids; }

const loupe_compare_cell *loupe_compare_cell_at(const loupe_compare_result *result, int row, int position) {
    if (row < 0 || row >= result->n_rows || position < 0 || position >= result->n_positions) return NULL;
    return &result->cells[(size_t)row * result->n_positions + position];
}
