/*
 * lens_run.c - the logit lens over a whole text.
 *
 * The forward pass keeps every tap of the residual stream, (R, T, C) floats
 * for R rows - small next to the projections. The projections are made one
 * row and one block of B positions at a time, (B, V) floats, and reduced at
 * once to the statistics of each cell, so (R, T, V) never exists: for a
 * block, the final row and the input row are projected first and kept as
 * references, then every row is projected and compared with them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lens/lens_stats.h"
#include "loupe.h"
#include "util/error.h"

struct loupe_lens_result {
    int n_rows;             /* R */
    int n_positions;        /* T */
    int topk;               /* K */
    char (*row_names)[32];  /* (R) */
    int32_t *ids;           /* (T) */
    loupe_lens_cell *cells; /* (R, T) */
    int32_t *top_ids;       /* (R, T, K) the cells' top_ids point here */
    float *top_probs;       /* (R, T, K) */
};

loupe_lens_params loupe_lens_default_params(void) {
    loupe_lens_params params = {.topk = 5, .subblocks = false, .position_block = 24};
    return params;
}

/* Collects the taps in row order into taps (R, T, C). */
typedef struct tap_store {
    float *taps;
    int next_row;
    int n_rows;
} tap_store;

static loupe_status store_tap(void *user, loupe_tap_kind kind, int layer, const float *residual,
                              int T, int C) {
    (void)kind;
    (void)layer;
    tap_store *store = user;
    if (store->next_row >= store->n_rows) return LOUPE_ERROR_ARGUMENT; /* cannot happen: rows counted from the model */
    memcpy(store->taps + (size_t)store->next_row * T * C, residual, (size_t)T * C * sizeof(float));
    store->next_row++;
    return LOUPE_OK;
}

/* Buffers for one block of B positions: logits of the row at hand, and the
 * log-probs and probs of the final and input rows. */
typedef struct lens_block_buffers {
    float *normed;          /* (B, C) */
    float *logits;          /* (B, V) */
    float *final_log_probs; /* (B, V) */
    float *final_probs;     /* (B, V) */
    float *first_log_probs; /* (B, V) */
    float *first_probs;     /* (B, V) */
    int32_t *final_top;     /* (B) */
    float *arena;
} lens_block_buffers;

static int block_buffers_build(lens_block_buffers *buffers, int B, int C, int V) {
    size_t bv = (size_t)B * V;
    buffers->arena = malloc(((size_t)B * C + 5 * bv) * sizeof(float) + (size_t)B * sizeof(int32_t));
    if (buffers->arena == NULL) return -1;
    float *next = buffers->arena;
    buffers->normed = next, next += (size_t)B * C;
    buffers->logits = next, next += bv;
    buffers->final_log_probs = next, next += bv;
    buffers->final_probs = next, next += bv;
    buffers->first_log_probs = next, next += bv;
    buffers->first_probs = next, next += bv;
    buffers->final_top = (int32_t *)next;
    return 0;
}

/* logits (n, V) = the lens of rows (n, C) of residual: final norm, unembed. */
static void project(const loupe_model *model, const float *residual, int n, lens_block_buffers *buffers) {
    loupe_model_final_norm(model, residual, n, buffers->normed);
    loupe_model_unembed(model, buffers->normed, n, buffers->logits);
}

static void make_row_names(loupe_lens_result *result, int n_layer, bool subblocks) {
    int row = 0;
    snprintf(result->row_names[row++], sizeof result->row_names[0], "input");
    for (int layer = 1; layer <= n_layer; layer++) {
        if (subblocks) snprintf(result->row_names[row++], sizeof result->row_names[0], "h%d.attn", layer);
        snprintf(result->row_names[row++], sizeof result->row_names[0], "h%d", layer);
    }
}

static loupe_status validate(const loupe_lens_params *params, int n_tokens, loupe_error *error) {
    if (params->topk < 1 || params->topk > LOUPE_LENS_MAX_TOPK)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "topk must be 1 .. %d, not %d", LOUPE_LENS_MAX_TOPK,
                         params->topk);
    if (params->position_block < 1 || params->position_block > 4096)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "position_block must be 1 .. 4096, not %d",
                         params->position_block);
    if (n_tokens < 1) return error_set(error, LOUPE_ERROR_ARGUMENT, "the text has no tokens");
    return LOUPE_OK;
}

static loupe_lens_result *result_create(int R, int T, int K) {
    loupe_lens_result *result = calloc(1, sizeof *result);
    if (result == NULL) return NULL;
    result->n_rows = R;
    result->n_positions = T;
    result->topk = K;
    size_t cells = (size_t)R * T;
    result->row_names = calloc((size_t)R, sizeof *result->row_names);
    result->ids = malloc((size_t)T * sizeof *result->ids);
    result->cells = calloc(cells, sizeof *result->cells);
    result->top_ids = malloc(cells * K * sizeof *result->top_ids);
    result->top_probs = malloc(cells * K * sizeof *result->top_probs);
    if (!result->row_names || !result->ids || !result->cells || !result->top_ids || !result->top_probs) {
        loupe_lens_free(result);
        return NULL;
    }
    return result;
}

/* The statistics of row `row` for positions begin .. begin+n-1, whose lens
 * logits are in buffers->logits. */
static void fill_cells(loupe_lens_result *result, int row, int begin, int n, int V,
                       const lens_block_buffers *buffers) {
    const int32_t *ids = result->ids;
    int T = result->n_positions, K = result->topk;
#pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < n; i++) {
        int t = begin + i;
        size_t offset = (size_t)i * V;
        lens_row_request request = {
            .logits = buffers->logits + offset,
            .final = {buffers->final_log_probs + offset, buffers->final_probs + offset},
            .first = {buffers->first_log_probs + offset, buffers->first_probs + offset},
            .target_id = t + 1 < T ? ids[t + 1] : -1,
            .input_id = ids[t],
            .final_top_id = buffers->final_top[i],
            .topk = K,
        };
        lens_row_stats stats;
        lens_row_compute(&request, V, &stats);
        size_t index = (size_t)row * T + t;
        loupe_lens_cell *cell = &result->cells[index];
        int32_t *top_ids = result->top_ids + index * K;
        float *top_probs = result->top_probs + index * K;
        memcpy(top_ids, stats.top_ids, (size_t)stats.n_top * sizeof *top_ids);
        memcpy(top_probs, stats.top_probs, (size_t)stats.n_top * sizeof *top_probs);
        cell->top_ids = top_ids;
        cell->top_probs = top_probs;
        cell->n_top = stats.n_top;
        cell->target = stats.target;
        cell->input = stats.input;
        cell->final_top = stats.final_top;
        cell->entropy = stats.entropy;
        cell->kl_final = stats.kl_final;
        cell->kl_final_rev = stats.kl_final_rev;
        cell->kl_first = stats.kl_first;
        cell->kl_first_rev = stats.kl_first_rev;
    }
}

/* Projects row `row` for a block and stores its references: log-probs and
 * probs into the given (n, V) buffers. */
static void project_reference(const loupe_model *model, const float *row_taps, int begin, int n, int C,
                              int V, lens_block_buffers *buffers, float *log_probs, float *probs) {
    project(model, row_taps + (size_t)begin * C, n, buffers);
#pragma omp parallel for schedule(static)
    for (int i = 0; i < n; i++)
        lens_log_softmax(buffers->logits + (size_t)i * V, V, log_probs + (size_t)i * V, probs + (size_t)i * V);
}

loupe_status loupe_lens_run(const loupe_model *model, const int32_t *ids, int n_tokens,
                            const loupe_lens_params *params, loupe_lens_result **result_out,
                            loupe_error *error) {
    *result_out = NULL;
    error_clear(error);
    loupe_lens_params defaults = loupe_lens_default_params();
    if (params == NULL) params = &defaults;
    loupe_status status = validate(params, n_tokens, error);
    if (status != LOUPE_OK) return status;

    loupe_model_info info;
    loupe_model_get_info(model, &info);
    int T = n_tokens, C = info.n_embd, V = info.n_vocab, L = info.n_layer;
    int R = 1 + L * (params->subblocks ? 2 : 1);
    int K = params->topk < V ? params->topk : V;
    int B = params->position_block < T ? params->position_block : T;

    loupe_lens_result *result = result_create(R, T, K);
    tap_store store = {.taps = malloc((size_t)R * T * C * sizeof(float)), .next_row = 0, .n_rows = R};
    lens_block_buffers buffers = {0};
    if (result == NULL || store.taps == NULL || block_buffers_build(&buffers, B, C, V) != 0) {
        status = error_set(error, LOUPE_ERROR_MEMORY, "out of memory for the lens of %d tokens", T);
        goto done;
    }
    memcpy(result->ids, ids, (size_t)T * sizeof *ids);
    make_row_names(result, L, params->subblocks);

    loupe_forward_params forward = loupe_forward_default_params();
    forward.tap = store_tap;
    forward.tap_user = &store;
    forward.tap_after_attention = params->subblocks;
    status = loupe_model_forward(model, ids, T, &forward, NULL, error);
    if (status != LOUPE_OK) goto done;

    const float *final_taps = store.taps + (size_t)(R - 1) * T * C;
    const float *first_taps = store.taps;
    for (int begin = 0; begin < T; begin += B) {
        int n = T - begin < B ? T - begin : B;
        project_reference(model, final_taps, begin, n, C, V, &buffers, buffers.final_log_probs,
                          buffers.final_probs);
        for (int i = 0; i < n; i++) {
            /* top-1 of the final row: the largest log-prob, smaller id on ties */
            const float *row = buffers.final_log_probs + (size_t)i * V;
            int32_t best = 0;
            for (int v = 1; v < V; v++)
                if (row[v] > row[best]) best = v;
            buffers.final_top[i] = best;
        }
        project_reference(model, first_taps, begin, n, C, V, &buffers, buffers.first_log_probs,
                          buffers.first_probs);
        for (int row = 0; row < R; row++) {
            project(model, store.taps + ((size_t)row * T + begin) * C, n, &buffers);
            fill_cells(result, row, begin, n, V, &buffers);
        }
    }

done:
    free(buffers.arena);
    free(store.taps);
    if (status != LOUPE_OK) {
        loupe_lens_free(result);
        return status;
    }
    *result_out = result;
    return LOUPE_OK;
}

void loupe_lens_free(loupe_lens_result *result) {
    if (result == NULL) return;
    free(result->row_names);
    free(result->ids);
    free(result->cells);
    free(result->top_ids);
    free(result->top_probs);
    free(result);
}

int loupe_lens_n_rows(const loupe_lens_result *result) { return result->n_rows; }

int loupe_lens_n_positions(const loupe_lens_result *result) { return result->n_positions; }

const char *loupe_lens_row_name(const loupe_lens_result *result, int row) {
    if (row < 0 || row >= result->n_rows) return NULL;
    return result->row_names[row];
}

const int32_t *loupe_lens_ids(const loupe_lens_result *result) { return result->ids; }

const loupe_lens_cell *loupe_lens_cell_at(const loupe_lens_result *result, int row, int position) {
    if (row < 0 || row >= result->n_rows || position < 0 || position >= result->n_positions) return NULL;
    return &result->cells[(size_t)row * result->n_positions + position];
}
