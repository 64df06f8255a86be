/*
 * lens_run.c - the logit lens over a whole text.
 *
 * The forward pass keeps every tap of the residual stream, (R, T, C) floats
 * for R rows - small next to the projections. (R, T, V) never exists: the
 * vocabulary is the inner loop. For a block of B positions, the R x B
 * normed taps are multiplied with one chunk of the unembedding at a time
 * (N = 512 entries, a tile of (R B, N) floats that stays in cache) and the
 * tile is folded at once into every cell's running statistics
 * (lens_fused.h). The vocabulary is cut into a fixed number of stripes that
 * the threads share out, each with its own states, merged in stripe order
 * afterwards: the results do not depend on the number of threads, and the
 * unembedding is streamed T / B times in all, not (R + 2) T / B times.
 *
 * Two things must be known before a block's pass: the final row's top-1 at
 * each position (one pass over the final row alone, for all positions, at
 * the start) and the logits of the tokens whose ranks are counted (a small
 * product with just those unembedding rows). The pass checks each of these
 * logits against the one its tile holds; a cell where they differ has its
 * rank recounted from its whole row.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "kernels/matmul.h"
#include "lens/lens_fused.h"
#include "lens/lens_stats.h"
#include "loupe.h"
#include "model/model.h"
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

/* ------------------------------------------------------------------------
 * The sweep over the vocabulary
 * ---------------------------------------------------------------------- */

/* Vocabulary entries per tile (a tile of 13 x 24 rows is 640 KB); stripes
 * the vocabulary is cut into, fixed so results do not depend on threads;
 * positions per tile in the pass that finds the final row's top-1. */
enum { LENS_VOCAB_CHUNK = 512, LENS_VOCAB_STRIPES = 32, LENS_TOP_POSITIONS = 256 };

static int max_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

static int thread_index(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* Working memory of the sweep, sized once for blocks of B positions. */
typedef struct lens_sweep {
    const loupe_model *model;
    const float *unembedding;  /* (V, C) */
    int R, T, C, V, K, B;
    int tile_rows;             /* max(R B, LENS_TOP_POSITIONS) */
    int n_threads;
    float *normed;             /* (tile_rows, C) the block's normed taps, position-major: i R + r */
    float *tiles;              /* (threads, tile_rows, CHUNK) */
    double *scratch;           /* (threads, 2 CHUNK) */
    lens_row_state *states;    /* (STRIPES, R B) */
    float *token_rows;         /* (3 B, C) unembedding rows of the tokens ranked */
    float *token_logits;       /* (R B, 3 B) their logits */
    int32_t *final_top;        /* (T) the final row's top-1 */
    float *best_logits;        /* (STRIPES, TOP_POSITIONS) */
    int32_t *best_ids;         /* (STRIPES, TOP_POSITIONS) */
    float *recount;            /* (V) one row's logits, for a recount */
} lens_sweep;

static void sweep_free(lens_sweep *sweep) {
    free(sweep->normed);
    free(sweep->tiles);
    free(sweep->scratch);
    free(sweep->states);
    free(sweep->token_rows);
    free(sweep->token_logits);
    free(sweep->final_top);
    free(sweep->best_logits);
    free(sweep->best_ids);
    free(sweep->recount);
}

static int sweep_build(lens_sweep *sweep, const loupe_model *model, int R, int T, int K, int B) {
    memset(sweep, 0, sizeof *sweep);
    sweep->model = model;
    sweep->unembedding = model->weights.unembedding;
    sweep->R = R, sweep->T = T, sweep->K = K, sweep->B = B;
    sweep->C = model->config.n_embd, sweep->V = model->config.n_vocab;
    size_t block_rows = (size_t)R * B, C = (size_t)sweep->C;
    sweep->tile_rows = block_rows > LENS_TOP_POSITIONS ? (int)block_rows : LENS_TOP_POSITIONS;
    sweep->n_threads = max_threads();
    size_t threads = (size_t)sweep->n_threads, rows = (size_t)sweep->tile_rows;
    sweep->normed = malloc(rows * C * sizeof(float));
    sweep->tiles = malloc(threads * rows * LENS_VOCAB_CHUNK * sizeof(float));
    sweep->scratch = malloc(threads * 2 * LENS_VOCAB_CHUNK * sizeof(double));
    sweep->states = malloc(LENS_VOCAB_STRIPES * block_rows * sizeof(lens_row_state));
    sweep->token_rows = malloc(3 * (size_t)B * C * sizeof(float));
    sweep->token_logits = malloc(block_rows * 3 * B * sizeof(float));
    sweep->final_top = malloc((size_t)T * sizeof(int32_t));
    sweep->best_logits = malloc(LENS_VOCAB_STRIPES * LENS_TOP_POSITIONS * sizeof(float));
    sweep->best_ids = malloc(LENS_VOCAB_STRIPES * LENS_TOP_POSITIONS * sizeof(int32_t));
    sweep->recount = malloc((size_t)sweep->V * sizeof(float));
    if (!sweep->normed || !sweep->tiles || !sweep->scratch || !sweep->states || !sweep->token_rows ||
        !sweep->token_logits || !sweep->final_top || !sweep->best_logits || !sweep->best_ids || !sweep->recount) {
        sweep_free(sweep);
        return -1;
    }
    return 0;
}

static int stripe_begin(int stripe, int V) { return (int)((int64_t)stripe * V / LENS_VOCAB_STRIPES); }

/* tile (rows, n) = normed (rows, C) x the unembedding rows from vocab_begin, (n, C), transposed. */
static void project_chunk(const lens_sweep *sweep, float *tile, int rows, int vocab_begin, int n) {
    matmul(tile, sweep->normed, sweep->unembedding + (size_t)vocab_begin * sweep->C, NULL, rows, sweep->C, n,
           MATMUL_WEIGHT_OUT_IN, false);
}

/* sweep->final_top (T) = the final row's top-1 (the smaller id on ties),
 * from final_taps (T, C). */
static void find_final_top(lens_sweep *sweep, const float *final_taps) {
    const int C = sweep->C, V = sweep->V;
    for (int begin = 0; begin < sweep->T; begin += LENS_TOP_POSITIONS) {
        const int n_positions = sweep->T - begin < LENS_TOP_POSITIONS ? sweep->T - begin : LENS_TOP_POSITIONS;
        loupe_model_final_norm(sweep->model, final_taps + (size_t)begin * C, n_positions, sweep->normed);
#pragma omp parallel for schedule(dynamic, 1)
        for (int stripe = 0; stripe < LENS_VOCAB_STRIPES; stripe++) {
            float *tile = sweep->tiles + (size_t)thread_index() * sweep->tile_rows * LENS_VOCAB_CHUNK;
            float *best = sweep->best_logits + (size_t)stripe * LENS_TOP_POSITIONS;
            int32_t *best_id = sweep->best_ids + (size_t)stripe * LENS_TOP_POSITIONS;
            for (int i = 0; i < n_positions; i++) best[i] = -INFINITY, best_id[i] = -1;
            const int end = stripe_begin(stripe + 1, V);
            for (int v0 = stripe_begin(stripe, V); v0 < end; v0 += LENS_VOCAB_CHUNK) {
                const int n = end - v0 < LENS_VOCAB_CHUNK ? end - v0 : LENS_VOCAB_CHUNK;
                project_chunk(sweep, tile, n_positions, v0, n);
                for (int i = 0; i < n_positions; i++) {
                    const float *row = tile + (size_t)i * n;
                    for (int v = 0; v < n; v++)
                        if (row[v] > best[i] || best_id[i] < 0) best[i] = row[v], best_id[i] = v0 + v;
                }
            }
        }
        for (int i = 0; i < n_positions; i++) {
            float value = 0.0f;
            int32_t id = -1;
            for (int stripe = 0; stripe < LENS_VOCAB_STRIPES; stripe++) {
                size_t at = (size_t)stripe * LENS_TOP_POSITIONS + i;
                if (sweep->best_ids[at] >= 0 && (id < 0 || sweep->best_logits[at] > value))
                    value = sweep->best_logits[at], id = sweep->best_ids[at];
            }
            if (id < 0) id = 0; /* only when every logit is NaN */
            sweep->final_top[begin + i] = id;
        }
    }
}

/* The ids whose ranks cell (position t) counts: target, input, final top. */
static void cell_tokens(const lens_sweep *sweep, const int32_t *ids, int t, int32_t tokens[LENS_TOKEN_COUNT]) {
    tokens[LENS_TOKEN_TARGET] = t + 1 < sweep->T ? ids[t + 1] : -1;
    tokens[LENS_TOKEN_INPUT] = ids[t];
    tokens[LENS_TOKEN_FINAL_TOP] = sweep->final_top[t];
}

/* Normed taps of the block's rows, the logits of its ranked tokens, and
 * every stripe's states set to start. Called by every thread of the
 * sweep's parallel region. */
static void block_prepare(lens_sweep *sweep, const float *taps, const int32_t *ids, int begin, int n) {
    const int R = sweep->R, C = sweep->C, M = R * n, n_tokens = LENS_TOKEN_COUNT * n;
#pragma omp for schedule(static)
    for (int i = 0; i < n; i++) {
        for (int r = 0; r < R; r++)
            loupe_model_final_norm(sweep->model, taps + ((size_t)r * sweep->T + begin + i) * C, 1,
                                   sweep->normed + ((size_t)i * R + r) * C);
        int32_t tokens[LENS_TOKEN_COUNT];
        cell_tokens(sweep, ids, begin + i, tokens);
        for (int k = 0; k < LENS_TOKEN_COUNT; k++) {
            int32_t id = tokens[k] >= 0 ? tokens[k] : 0;
            memcpy(sweep->token_rows + ((size_t)i * LENS_TOKEN_COUNT + k) * C, sweep->unembedding + (size_t)id * C,
                   (size_t)C * sizeof(float));
        }
    }
#pragma omp single
    matmul(sweep->token_logits, sweep->normed, sweep->token_rows, NULL, M, C, n_tokens, MATMUL_WEIGHT_OUT_IN, false);
#pragma omp for schedule(static)
    for (int i = 0; i < n; i++) {
        int32_t tokens[LENS_TOKEN_COUNT];
        cell_tokens(sweep, ids, begin + i, tokens);
        for (int r = 0; r < R; r++) {
            const float *row_logits = sweep->token_logits + ((size_t)i * R + r) * n_tokens + LENS_TOKEN_COUNT * i;
            for (int stripe = 0; stripe < LENS_VOCAB_STRIPES; stripe++)
                lens_row_state_begin(&sweep->states[(size_t)stripe * M + (size_t)i * R + r], tokens, row_logits,
                                     sweep->K);
        }
    }
}

/* Every stripe's pass over the vocabulary for the block's n positions,
 * shared out among the threads of the sweep's parallel region. */
static void block_sweep(lens_sweep *sweep, int n) {
    const int R = sweep->R, M = R * n, V = sweep->V;
#pragma omp for schedule(dynamic, 1)
    for (int stripe = 0; stripe < LENS_VOCAB_STRIPES; stripe++) {
        float *tile = sweep->tiles + (size_t)thread_index() * sweep->tile_rows * LENS_VOCAB_CHUNK;
        double *scratch = sweep->scratch + (size_t)thread_index() * 2 * LENS_VOCAB_CHUNK;
        lens_row_state *states = sweep->states + (size_t)stripe * M;
        const int end = stripe_begin(stripe + 1, V);
        for (int v0 = stripe_begin(stripe, V); v0 < end; v0 += LENS_VOCAB_CHUNK) {
            const int chunk = end - v0 < LENS_VOCAB_CHUNK ? end - v0 : LENS_VOCAB_CHUNK;
            project_chunk(sweep, tile, M, v0, chunk);
            for (int i = 0; i < n; i++)
                lens_fused_chunk(states + (size_t)i * R, R, tile + (size_t)i * R * chunk, chunk, v0, chunk, scratch);
        }
    }
}

static void store_cell(loupe_lens_result *result, int row, int t, const lens_row_stats *stats) {
    size_t index = (size_t)row * result->n_positions + t;
    loupe_lens_cell *cell = &result->cells[index];
    int32_t *top_ids = result->top_ids + index * result->topk;
    float *top_probs = result->top_probs + index * result->topk;
    memcpy(top_ids, stats->top_ids, (size_t)stats->n_top * sizeof *top_ids);
    memcpy(top_probs, stats->top_probs, (size_t)stats->n_top * sizeof *top_probs);
    cell->top_ids = top_ids;
    cell->top_probs = top_probs;
    cell->n_top = stats->n_top;
    cell->target = stats->target;
    cell->input = stats->input;
    cell->final_top = stats->final_top;
    cell->entropy = stats->entropy;
    cell->kl_final = stats->kl_final;
    cell->kl_final_rev = stats->kl_final_rev;
    cell->kl_first = stats->kl_first;
    cell->kl_first_rev = stats->kl_first_rev;
}

/* The rank of a token whose logit in the tile was not the one counted
 * against: recounted on the whole row, projected again. */
static int32_t recount_rank(lens_sweep *sweep, const float *normed_row, int32_t id) {
    matmul(sweep->recount, normed_row, sweep->unembedding, NULL, 1, sweep->C, sweep->V, MATMUL_WEIGHT_OUT_IN, false);
    int32_t above = 0;
    for (int v = 0; v < sweep->V; v++) above += sweep->recount[v] > sweep->recount[id];
    return above + 1;
}

/* The block's cells: each position's stripes merged in stripe order into
 * stripe 0, then finished. Called by every thread of the sweep's region. */
static void block_finish(lens_sweep *sweep, loupe_lens_result *result, int begin, int n) {
    const int R = sweep->R, M = R * n;
#pragma omp for schedule(static)
    for (int i = 0; i < n; i++) {
        lens_row_state *states = sweep->states + (size_t)i * R;
        for (int stripe = 1; stripe < LENS_VOCAB_STRIPES; stripe++)
            lens_fused_merge(states, sweep->states + (size_t)stripe * M + (size_t)i * R, R);
        for (int r = 0; r < R; r++) {
            lens_row_stats stats;
            unsigned recount_mask = 0;
            lens_fused_finish(states, R, r, &stats, &recount_mask);
            loupe_lens_token *tokens[LENS_TOKEN_COUNT] = {&stats.target, &stats.input, &stats.final_top};
            for (int k = 0; k < LENS_TOKEN_COUNT; k++)
                if (recount_mask & (1u << k)) {
#pragma omp critical(lens_recount)
                    tokens[k]->rank = recount_rank(sweep, sweep->normed + ((size_t)i * R + r) * sweep->C, tokens[k]->id);
                }
            store_cell(result, r, begin + i, &stats);
        }
    }
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
    lens_sweep sweep;
    if (result == NULL || store.taps == NULL || sweep_build(&sweep, model, R, T, K, B) != 0) {
        status = error_set(error, LOUPE_ERROR_MEMORY, "out of memory for the lens of %d tokens", T);
        free(store.taps);
        loupe_lens_free(result);
        return status;
    }
    memcpy(result->ids, ids, (size_t)T * sizeof *ids);
    make_row_names(result, L, params->subblocks);

    loupe_forward_params forward = loupe_forward_default_params();
    forward.tap = store_tap;
    forward.tap_user = &store;
    forward.tap_after_attention = params->subblocks;
    status = loupe_model_forward(model, ids, T, &forward, NULL, error);
    if (status == LOUPE_OK) {
        /* The sweep runs its matmuls on threads of its own. */
        int blas_threads = matmul_set_threads(1);
        find_final_top(&sweep, store.taps + (size_t)(R - 1) * T * C);
        /* One parallel region for every block: its phases are shared out
         * among the threads, so none waits through serial work. */
#pragma omp parallel
        for (int begin = 0; begin < T; begin += B) {
            int n = T - begin < B ? T - begin : B;
            block_prepare(&sweep, store.taps, ids, begin, n);
            block_sweep(&sweep, n);
            block_finish(&sweep, result, begin, n);
        }
        matmul_set_threads(blas_threads);
    }
    sweep_free(&sweep);
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
