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
 * each position, and the logits of the tokens whose ranks are counted. The
 * final row is therefore projected one block ahead: the tiles of block b
 * hold rows 0 .. R-2 of block b and the final row of block b + 1, whose
 * logits (B, V) are kept whole; they give block b + 1 its final top-1 and,
 * during its own pass, its final row. No row is projected twice. The
 * tokens' logits in the other rows come from a small product with just
 * those unembedding rows; the pass checks each against the one its tile
 * holds, and a cell where they differ has its rank recounted from its
 * whole row.
 *
 * With precision bf16 the projections run on bf16_gemm.h instead, the
 * normed rows and the unembedding rounded to BF16 (lens_bf16.h), and each
 * cell gets the bound of docs/PRECISION.md from its normed row's norm; the
 * forward pass and everything after the projections are unchanged.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "kernels/bf16_gemm.h"
#include "kernels/matmul.h"
#include "kernels/parallel.h"
#include "kernels/tile_gemm.h"
#include "lens/lens_contributions.h"
#include "lens/lens_bf16.h"
#include "lens/lens_fused.h"
#include "lens/lens_run.h"
#include "lens/lens_stats.h"
#include "lens/lens_taps.h"
#include "lens/lens_track.h"
#include "loupe.h"
#include "model/model.h"
#include "util/cpu_features.h"
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
    char *tuned_directory;  /* the tuned lens's folder, or NULL for the logit lens (owned) */
    int n_track;            /* N tracked tokens */
    loupe_lens_token *tracked; /* (R, T, N) the cells' tracked point here; NULL when N is 0 */
    loupe_lens_attribution *attributions; /* (R, T) with contributions: the component rows' cells point here */
    float *taps;            /* (R, T, C) with keep_taps, else NULL */
    loupe_precision precision; /* the projections' (params.precision) */
};

loupe_lens_params loupe_lens_default_params(void) {
    loupe_lens_params params = {.topk = 5, .subblocks = false, .position_block = 24, .track_ids = NULL, .n_track = 0,
                                 .contributions = false, .keep_taps = false};
    return params;
}

static void make_row_names(loupe_lens_result *result, int n_layer, bool subblocks, bool contributions) {
    for (int row = 0; row < result->n_rows; row++)
        loupe_lens_row_label_with(n_layer, subblocks, contributions, row, result->row_names[row],
                                  sizeof result->row_names[0]);
}

static loupe_status validate(const loupe_lens_params *params, int n_tokens, loupe_error *error) {
    if (params->topk < 1 || params->topk > LOUPE_LENS_MAX_TOPK)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "topk must be 1 .. %d, not %d", LOUPE_LENS_MAX_TOPK,
                         params->topk);
    if (params->position_block < 1 || params->position_block > 4096)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "position_block must be 1 .. 4096, not %d",
                         params->position_block);
    if (n_tokens < 1) return error_set(error, LOUPE_ERROR_ARGUMENT, "the text has no tokens");
    if (params->precision != LOUPE_PRECISION_F32 && params->precision != LOUPE_PRECISION_BF16)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "precision must be f32 or bf16, not %d", (int)params->precision);
    if (params->precision == LOUPE_PRECISION_BF16 && !bf16_gemm_available())
        return error_set(error, LOUPE_ERROR_UNSUPPORTED,
                         "--precision bf16: this CPU has no AVX512_BF16 (vdpbf16ps) at the level in force (%s); "
                         "use --precision f32",
                         cpu_level_name(cpu_features_level()));
    return LOUPE_OK;
}

/* Rows 0 .. R-2 of taps (R, T, C) through the tuned lens's translators, in
 * place; the last row, the model's output, has none. */
static loupe_status translate_taps(const loupe_tuned_lens *tuned, float *taps, int R, int T, int C,
                                   loupe_error *error) {
    float *translated = malloc((size_t)T * C * sizeof(float)); /* (T, C) */
    if (translated == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for the tuned lens");
    loupe_status status = LOUPE_OK;
    for (int row = 0; row < R - 1 && status == LOUPE_OK; row++) {
        float *rows = taps + (size_t)row * T * C;
        status = loupe_tuned_lens_translate(tuned, row, rows, T, translated, error);
        memcpy(rows, translated, (size_t)T * C * sizeof(float));
    }
    free(translated);
    return status;
}

/* A tuned lens needs one translator per block output, of the model's width. */
static loupe_status validate_tuned(const loupe_lens_params *params, const loupe_model_info *info,
                                   loupe_error *error) {
    if (params->tuned == NULL) return LOUPE_OK;
    if (params->subblocks)
        return error_set(error, LOUPE_ERROR_ARGUMENT,
                         "the tuned lens has translators for block outputs only, not for sub-blocks");
    if (params->contributions)
        return error_set(error, LOUPE_ERROR_ARGUMENT,
                         "the tuned lens has translators for block outputs only, not for contributions");
    loupe_tuned_lens_info tuned;
    loupe_tuned_lens_get_info(params->tuned, &tuned);
    if (tuned.n_layer != info->n_layer || tuned.n_embd != info->n_embd)
        return error_set(error, LOUPE_ERROR_ARGUMENT,
                         "%s: the lens has %d translators of width %d, the model %d layers of width %d",
                         tuned.directory, tuned.n_layer, tuned.n_embd, info->n_layer, info->n_embd);
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

/* lens_result_create's result, with the contribution rows when asked. */
static loupe_lens_result *result_create_with(int n_layer, bool subblocks, bool contributions, int T, int K) {
    loupe_lens_result *result = result_create(loupe_lens_row_count_with(n_layer, subblocks, contributions), T, K);
    if (result != NULL) make_row_names(result, n_layer, subblocks, contributions);
    return result;
}

loupe_lens_result *lens_result_create(int n_layer, bool subblocks, int T, int K) {
    return result_create_with(n_layer, subblocks, false, T, K);
}

loupe_status lens_params_check_one_text(const loupe_lens_params *params, const char *what, loupe_error *error) {
    if (params != NULL && (params->n_track > 0 || params->contributions || params->keep_taps))
        return error_set(error, LOUPE_ERROR_ARGUMENT,
                         "track_ids, contributions and keep_taps apply to one text in one window, not to %s", what);
    return LOUPE_OK;
}

/* The tracked tokens of every cell from the taps (R, T, C), and each cell
 * pointed at its own (lens_track.h). Nothing to do without tracked tokens. */
static loupe_status attach_tracked(loupe_lens_result *result, const loupe_model *model, const float *taps,
                                   const loupe_lens_params *params, loupe_error *error) {
    if (params->n_track == 0) return LOUPE_OK;
    const size_t cells = (size_t)result->n_rows * result->n_positions, N = (size_t)params->n_track;
    result->tracked = malloc(cells * N * sizeof *result->tracked);
    if (result->tracked == NULL)
        return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for the tracked tokens");
    result->n_track = params->n_track;
    loupe_status status = lens_track_cells(model, taps, result->n_rows, result->n_positions, params->track_ids,
                                           params->n_track, result->tracked, error);
    for (size_t i = 0; i < cells && status == LOUPE_OK; i++) {
        result->cells[i].tracked = result->tracked + i * N;
        result->cells[i].n_tracked = params->n_track;
    }
    return status;
}

/* The direct logit attributions of the component rows from the taps (R, T,
 * C) to next_ids (T, -1 where none), each such cell pointed at its own
 * (lens_contributions.h). Nothing to do without contributions. */
static loupe_status attach_attributions(loupe_lens_result *result, const loupe_model *model, const float *taps,
                                        const int32_t *next_ids, const loupe_lens_params *params, loupe_error *error) {
    if (!params->contributions) return LOUPE_OK;
    const int R = result->n_rows, T = result->n_positions;
    result->attributions = calloc((size_t)R * T, sizeof *result->attributions);
    int32_t *final_top = malloc((size_t)T * sizeof *final_top);
    loupe_status status = LOUPE_OK;
    if (result->attributions == NULL || final_top == NULL)
        status = error_set(error, LOUPE_ERROR_MEMORY, "out of memory for the attributions");
    for (int t = 0; t < T && status == LOUPE_OK; t++) final_top[t] = result->cells[(size_t)(R - 1) * T + t].top_ids[0];
    if (status == LOUPE_OK)
        status = lens_contributions_attribute(model, taps, R, T, params->subblocks, next_ids, final_top,
                                              result->attributions, error);
    for (int r = 0; r < R && status == LOUPE_OK; r++)
        for (int t = 0; t < T && lens_row_is_component(r, params->subblocks); t++)
            result->cells[(size_t)r * T + t].attribution = &result->attributions[(size_t)r * T + t];
    free(final_top);
    return status;
}

void lens_result_copy_positions(loupe_lens_result *to, int to_first, const loupe_lens_result *from,
                                int from_first, int n) {
    const int K = to->topk;
    to->precision = from->precision;
    memcpy(to->ids + to_first, from->ids + from_first, (size_t)n * sizeof *to->ids);
    for (int r = 0; r < to->n_rows; r++) {
        size_t to_index = (size_t)r * to->n_positions + to_first;
        size_t from_index = (size_t)r * from->n_positions + from_first;
        memcpy(to->top_ids + to_index * K, from->top_ids + from_index * K, (size_t)n * K * sizeof *to->top_ids);
        memcpy(to->top_probs + to_index * K, from->top_probs + from_index * K,
               (size_t)n * K * sizeof *to->top_probs);
        for (int i = 0; i < n; i++) {
            loupe_lens_cell *cell = &to->cells[to_index + i];
            *cell = from->cells[from_index + i];
            cell->top_ids = to->top_ids + (to_index + i) * K;
            cell->top_probs = to->top_probs + (to_index + i) * K;
        }
    }
}

/* ------------------------------------------------------------------------
 * The sweep over the vocabulary
 * ---------------------------------------------------------------------- */

/* Vocabulary entries per tile (a tile of 13 x 24 rows is 640 KB), and the
 * stripes the vocabulary is cut into, fixed so results do not depend on
 * the number of threads. */
enum { LENS_VOCAB_CHUNK = 512, LENS_VOCAB_STRIPES = 32 };

/* Working memory of the sweep, sized once for blocks of B positions. The
 * final row is projected one block ahead: the sweep of block b computes
 * rows 0 .. R-2 of block b and the final row of block b + 1, whose whole
 * logits are kept until block b + 1 is swept. */
typedef struct lens_sweep {
    const loupe_model *model;
    const weight_view *unembedding; /* (V, C), as stored */
    int R, T, C, V, K, B;
    int n_threads;
    bool use_tile_gemm;        /* the AVX-512 kernel of tile_gemm.h, else matmul (BLAS) */
    bool use_bf16;             /* precision bf16: bf16_gemm.h on the BF16 copies below, neither of the above */
    lens_bf16_unembedding bf16_unembedding; /* (V, Kp) with use_bf16 */
    float *normed;             /* (R B, C) normed taps: rows 0 .. R-2 of the block, position-major
                                  (i (R-1) + r), then the next block's final row */
    float *packed;             /* the same rows packed for tile_gemm (tile_gemm_packed_floats(R B, C));
                                  NULL without it */
    uint16_t *normed_bf16;     /* with use_bf16: (R B rounded up to 32, Kp) the normed rows in BF16
                                  (bf16_convert_rows), in the order of normed */
    uint16_t *token_rows_bf16; /* with use_bf16: the BF16 unembedding rows of the tokens ranked, (3 B)
                                  packed as the unembedding is (bf16_gemm_pack_panel) */
    uint16_t *recount_bf16;    /* with use_bf16: (32, Kp) one normed row in BF16, for a recount */
    int stripe_align;          /* stripes begin at multiples of this: 32 with use_bf16 (the kernel
                                  starts at a panel of the unembedding), else 1 */
    float *tiles;              /* (threads, R B, CHUNK) */
    float *chunk_weights;      /* (threads, CHUNK, C) a chunk of a BF16/F16 unembedding as floats; NULL for F32 */
    double *scratch;           /* (threads, 2 CHUNK) */
    lens_row_state *states;    /* (STRIPES, R B) */
    float *token_rows;         /* (3 B, C) unembedding rows of the tokens ranked */
    float *token_logits;       /* ((R-1) B, 3 B) their logits in rows 0 .. R-2 */
    float *final_logits[2];    /* (B, V) each: the final row of even and of odd blocks */
    int *floor_columns;        /* (3 B) the columns of token_logits with distinct token ids, this step's */
    int n_floor_columns;
    unsigned char *floor_seen; /* (V) zeros between steps: the ids find_floor_columns met */
    const int32_t *next_ids;   /* (T) the token each position predicts, -1 for none */
    int32_t *final_top;        /* (T) the final row's top-1 */
    float *recount;            /* (V) one row's logits, for a recount */
} lens_sweep;

/* One step of the sweep: the cells of block `block` (n positions from
 * begin; none in the step before the first block) and the final row of the
 * next block (n_next positions from next_begin; none after the last). */
typedef struct lens_step {
    int block, begin, n, next_begin, n_next;
} lens_step;

static lens_step step_of(int block, int B, int T) {
    lens_step step = {.block = block, .begin = block * B, .n = 0, .next_begin = (block + 1) * B, .n_next = 0};
    if (block >= 0) step.n = T - step.begin < B ? T - step.begin : B;
    if (step.next_begin < T) step.n_next = T - step.next_begin < B ? T - step.next_begin : B;
    return step;
}

/* This thread's (CHUNK, C) floats for a converted chunk of the
 * unembedding, also matmul_view's scratch for a recount (a chunk holds
 * more than a panel); NULL for an F32 unembedding. */
static float *chunk_weights_of(const lens_sweep *sweep) {
    _Static_assert((int)LENS_VOCAB_CHUNK >= (int)MATMUL_PANEL_COLUMNS, "a chunk must hold matmul_view's panel");
    if (sweep->chunk_weights == NULL) return NULL;
    return sweep->chunk_weights + (size_t)parallel_thread_index() * LENS_VOCAB_CHUNK * sweep->C;
}

/* The kept final-row logits (B, V) of block `block`. */
static float *final_logits_of(const lens_sweep *sweep, int block) { return sweep->final_logits[block & 1]; }

static void sweep_free(lens_sweep *sweep) {
    free(sweep->normed);
    free(sweep->packed);
    free(sweep->normed_bf16);
    free(sweep->token_rows_bf16);
    free(sweep->recount_bf16);
    lens_bf16_unembedding_free(&sweep->bf16_unembedding);
    free(sweep->tiles);
    free(sweep->chunk_weights);
    free(sweep->scratch);
    free(sweep->states);
    free(sweep->token_rows);
    free(sweep->token_logits);
    free(sweep->final_logits[0]);
    free(sweep->final_logits[1]);
    free(sweep->final_top);
    free(sweep->floor_columns);
    free(sweep->floor_seen);
    free(sweep->recount);
}

/* Aligned, zeroed storage for n BF16 values (a whole number of 64-byte
 * lines): rows the kernel reads past those in use are zeros. */
static uint16_t *bf16_alloc(size_t n) {
    const size_t bytes = (n * sizeof(uint16_t) + 63) / 64 * 64;
    uint16_t *values = aligned_alloc(64, bytes);
    if (values != NULL) memset(values, 0, bytes);
    return values;
}

static int sweep_build(lens_sweep *sweep, const loupe_model *model, int R, int T, int K, int B, bool bf16) {
    memset(sweep, 0, sizeof *sweep);
    sweep->model = model;
    sweep->unembedding = &model->unembedding;
    sweep->R = R, sweep->T = T, sweep->K = K, sweep->B = B;
    sweep->C = model->description.n_embd, sweep->V = model->description.n_vocab;
    size_t block_rows = (size_t)R * B, C = (size_t)sweep->C, V = (size_t)sweep->V;
    sweep->n_threads = parallel_max_threads();
    size_t threads = (size_t)sweep->n_threads;
    sweep->normed = malloc(block_rows * C * sizeof(float));
    sweep->use_bf16 = bf16;
    sweep->stripe_align = bf16 ? BF16_GEMM_PANEL_ROWS : 1;
    sweep->use_tile_gemm = !bf16 && tile_gemm_available();
    if (bf16) {
        const size_t Kp = (size_t)bf16_gemm_padded_width(sweep->C);
        sweep->normed_bf16 = bf16_alloc((size_t)bf16_gemm_padded_rows((int)block_rows) * Kp);
        sweep->token_rows_bf16 = bf16_alloc(bf16_gemm_packed_values(LENS_TOKEN_COUNT * B, sweep->C));
        sweep->recount_bf16 = bf16_alloc((size_t)bf16_gemm_padded_rows(1) * Kp);
        if (!sweep->normed_bf16 || !sweep->token_rows_bf16 || !sweep->recount_bf16 ||
            !lens_bf16_unembedding_build(&sweep->bf16_unembedding, sweep->unembedding, sweep->V, sweep->C)) {
            sweep_free(sweep);
            return -1;
        }
    }
    /* aligned_alloc wants a multiple of the alignment: 32 K floats per panel are. */
    if (sweep->use_tile_gemm)
        sweep->packed = aligned_alloc(64, tile_gemm_packed_floats((int)block_rows, sweep->C) * sizeof(float));
    sweep->tiles = malloc(threads * block_rows * LENS_VOCAB_CHUNK * sizeof(float));
    bool in_place = weight_view_f32(sweep->unembedding) != NULL;
    if (!in_place) sweep->chunk_weights = malloc(threads * LENS_VOCAB_CHUNK * C * sizeof(float));
    sweep->scratch = malloc(threads * 2 * LENS_VOCAB_CHUNK * sizeof(double));
    sweep->states = malloc(LENS_VOCAB_STRIPES * block_rows * sizeof(lens_row_state));
    sweep->token_rows = malloc(LENS_TOKEN_COUNT * (size_t)B * C * sizeof(float));
    sweep->token_logits = malloc((block_rows - (size_t)B + 1) * LENS_TOKEN_COUNT * B * sizeof(float));
    sweep->final_logits[0] = malloc((size_t)B * V * sizeof(float));
    sweep->final_logits[1] = malloc((size_t)B * V * sizeof(float));
    sweep->final_top = malloc((size_t)T * sizeof(int32_t));
    sweep->floor_columns = malloc(LENS_TOKEN_COUNT * (size_t)B * sizeof(int));
    sweep->floor_seen = calloc(V, 1);
    sweep->recount = malloc(V * sizeof(float));
    if (!sweep->normed || (sweep->use_tile_gemm && !sweep->packed) || !sweep->tiles ||
        (!in_place && !sweep->chunk_weights) || !sweep->scratch || !sweep->states || !sweep->token_rows ||
        !sweep->token_logits || !sweep->final_logits[0] || !sweep->final_logits[1] || !sweep->final_top ||
        !sweep->floor_columns || !sweep->floor_seen ||
        !sweep->recount) {
        sweep_free(sweep);
        return -1;
    }
    return 0;
}

/* The first entry of a stripe (STRIPES: V), a multiple of align but for V. */
static int stripe_begin(int stripe, int V, int align) {
    const int begin = (int)((int64_t)stripe * V / LENS_VOCAB_STRIPES);
    return begin == V ? V : begin / align * align;
}

/* The ids whose ranks cell (position t) counts: target, input, final top. */
static void cell_tokens(const lens_sweep *sweep, const int32_t *ids, int t, int32_t tokens[LENS_TOKEN_COUNT]) {
    tokens[LENS_TOKEN_TARGET] = sweep->next_ids[t];
    tokens[LENS_TOKEN_INPUT] = ids[t];
    tokens[LENS_TOKEN_FINAL_TOP] = sweep->final_top[t];
}

/* The token id of column j of the step's token logits (-1 read as 0, the
 * row token_rows holds for it). */
static int32_t column_token(const lens_sweep *sweep, const int32_t *ids, const lens_step *step, int j) {
    int32_t tokens[LENS_TOKEN_COUNT];
    cell_tokens(sweep, ids, step->begin + j / LENS_TOKEN_COUNT, tokens);
    return tokens[j % LENS_TOKEN_COUNT] >= 0 ? tokens[j % LENS_TOKEN_COUNT] : 0;
}

/* sweep->floor_columns <- the first column of each distinct token id among
 * the step's 3 n ranked tokens. */
static void find_floor_columns(lens_sweep *sweep, const int32_t *ids, const lens_step *step) {
    int n = 0;
    for (int j = 0; j < LENS_TOKEN_COUNT * step->n; j++) {
        int32_t id = column_token(sweep, ids, step, j);
        if (!sweep->floor_seen[id]) sweep->floor_columns[n++] = j;
        sweep->floor_seen[id] = 1;
    }
    for (int k = 0; k < n; k++) sweep->floor_seen[column_token(sweep, ids, step, sweep->floor_columns[k])] = 0;
    sweep->n_floor_columns = n;
}

/* A floor for one row's top list (lens_row_state_set_floor): the K-th
 * largest of the row's logits of the step's distinct ranked tokens, which
 * are entries of the row with the very bits the sweep will see; logit(j)
 * is column j's. -inf when there are fewer than K of them or one is NaN. */
static float top_floor(const lens_sweep *sweep, const float *row_logits, int stride, const int32_t *ids,
                       const lens_step *step) {
    const int K = sweep->K;
    float largest[LOUPE_LENS_MAX_TOPK]; /* (count) descending */
    int count = 0;
    for (int c = 0; c < sweep->n_floor_columns; c++) {
        int j = sweep->floor_columns[c];
        float value = stride > 0 ? row_logits[j] : row_logits[column_token(sweep, ids, step, j)];
        if (isnan(value)) return -INFINITY;
        if (count == K && !(value > largest[K - 1])) continue;
        int at = count < K ? count++ : K - 1;
        for (; at > 0 && largest[at - 1] < value; at--) largest[at] = largest[at - 1];
        largest[at] = value;
    }
    return count == K ? largest[K - 1] : -INFINITY;
}

/* Normed taps of the step's rows, the logits of the block's ranked tokens,
 * and every stripe's states set to start. Called by every thread of the
 * sweep's parallel region. */
/* The bound of cell (row, t) whose normed row is normed (C): 0 in f32,
 * where the lens is the exact one. */
static void set_cell_bound(const lens_sweep *sweep, loupe_lens_result *result, int row, int t, const float *normed) {
    result->cells[(size_t)row * result->n_positions + t].logit_error_bound =
        sweep->use_bf16
            ? lens_bf16_logit_error_bound(&sweep->bf16_unembedding, lens_bf16_row_norm(normed, sweep->C))
            : 0.0f;
}

static void step_prepare(lens_sweep *sweep, loupe_lens_result *result, const float *taps, const int32_t *ids,
                         const lens_step *step) {
    const int R = sweep->R, C = sweep->C, V = sweep->V, T = sweep->T, n = step->n;
    const int rows = R - 1, M = rows * n, n_tokens = LENS_TOKEN_COUNT * n;
    const int Kp = bf16_gemm_padded_width(C);
#pragma omp for schedule(static)
    for (int i = 0; i < n; i++) {
        for (int r = 0; r < rows; r++) {
            float *normed = sweep->normed + ((size_t)i * rows + r) * C;
            loupe_model_final_norm(sweep->model, taps + ((size_t)r * T + step->begin + i) * C, 1, normed);
            set_cell_bound(sweep, result, r, step->begin + i, normed);
        }
        int32_t tokens[LENS_TOKEN_COUNT];
        cell_tokens(sweep, ids, step->begin + i, tokens);
        for (int k = 0; k < LENS_TOKEN_COUNT; k++) {
            int32_t id = tokens[k] >= 0 ? tokens[k] : 0;
            if (sweep->use_bf16)
                bf16_gemm_copy_packed_row(sweep->token_rows_bf16, i * LENS_TOKEN_COUNT + k,
                                          sweep->bf16_unembedding.rows, id, C);
            else
                weight_view_to_f32(sweep->unembedding, id, 1, 0, C,
                                   sweep->token_rows + ((size_t)i * LENS_TOKEN_COUNT + k) * C, C);
        }
    }
    const float *final_taps = taps + (size_t)rows * T * C;
#pragma omp for schedule(static)
    for (int j = 0; j < step->n_next; j++) {
        float *normed = sweep->normed + ((size_t)M + j) * C;
        loupe_model_final_norm(sweep->model, final_taps + (size_t)(step->next_begin + j) * C, 1, normed);
        set_cell_bound(sweep, result, rows, step->next_begin + j, normed);
    }
    if (sweep->use_bf16) {
#pragma omp for schedule(static)
        for (int row = 0; row < M + step->n_next; row++)
            bf16_convert_rows(sweep->normed_bf16 + (size_t)row * Kp, sweep->normed + (size_t)row * C, 1, C);
        /* The tokens' logits with the kernel of the tiles: the same bits;
         * one panel of token rows per call. */
#pragma omp for schedule(static)
        for (int j0 = 0; j0 < n_tokens; j0 += BF16_GEMM_PANEL_ROWS) {
            int columns = n_tokens - j0 < BF16_GEMM_PANEL_ROWS ? n_tokens - j0 : BF16_GEMM_PANEL_ROWS;
            if (M > 0)
                bf16_gemm(sweep->token_logits + j0, n_tokens, sweep->normed_bf16, M,
                          sweep->token_rows_bf16 + (size_t)j0 * Kp, columns, C);
        }
    } else if (sweep->use_tile_gemm) {
#pragma omp for schedule(static)
        for (int panel = 0; panel < tile_gemm_panels(M + step->n_next); panel++)
            tile_gemm_pack_panel(sweep->packed, sweep->normed, M + step->n_next, C, panel);
        /* The tokens' logits with the kernel of the tiles: the same bits. */
#pragma omp for schedule(static)
        for (int j0 = 0; j0 < n_tokens; j0 += TILE_GEMM_WEIGHT_ROWS) {
            int columns = n_tokens - j0 < TILE_GEMM_WEIGHT_ROWS ? n_tokens - j0 : TILE_GEMM_WEIGHT_ROWS;
            if (M > 0)
                tile_gemm(sweep->token_logits + j0, n_tokens, sweep->packed, M, sweep->token_rows + (size_t)j0 * C,
                          columns, C);
        }
    } else {
#pragma omp single
        if (M > 0)
            matmul(sweep->token_logits, sweep->normed, sweep->token_rows, NULL, M, C, n_tokens,
                   MATMUL_WEIGHT_OUT_IN, false);
    }
    const float *final_logits = final_logits_of(sweep, step->block);
    /* The rows' token logits have the tiles' bits with tile_gemm and bf16_gemm (not through BLAS); the final
     * row's are the tiles'. */
    const bool floors_for_rows = sweep->use_tile_gemm || sweep->use_bf16;
#pragma omp single
    find_floor_columns(sweep, ids, step);
#pragma omp for schedule(static)
    for (int i = 0; i < n; i++) {
        int32_t tokens[LENS_TOKEN_COUNT];
        cell_tokens(sweep, ids, step->begin + i, tokens);
        float final_thresholds[LENS_TOKEN_COUNT];
        for (int k = 0; k < LENS_TOKEN_COUNT; k++)
            final_thresholds[k] = tokens[k] >= 0 ? final_logits[(size_t)i * V + tokens[k]] : 0.0f;
        for (int r = 0; r < R; r++) {
            const float *thresholds = r == rows ? final_thresholds
                                                : sweep->token_logits + ((size_t)i * rows + r) * n_tokens +
                                                      LENS_TOKEN_COUNT * i;
            float floor = r == rows ? top_floor(sweep, final_logits + (size_t)i * V, 0, ids, step)
                          : floors_for_rows
                              ? top_floor(sweep, sweep->token_logits + ((size_t)i * rows + r) * n_tokens, 1, ids, step)
                              : -INFINITY;
            for (int stripe = 0; stripe < LENS_VOCAB_STRIPES; stripe++) {
                lens_row_state *state = &sweep->states[(size_t)stripe * R * n + (size_t)i * R + r];
                lens_row_state_begin(state, tokens, thresholds, sweep->K);
                lens_row_state_set_floor(state, floor);
            }
        }
    }
}

/* Every stripe's pass over the vocabulary for the step, shared out among
 * the threads of the sweep's parallel region: each tile holds rows 0 .. R-2
 * of the block and the next block's final row, which is kept. */
static void step_sweep(lens_sweep *sweep, const lens_step *step) {
    const int R = sweep->R, C = sweep->C, V = sweep->V, n = step->n, rows = R - 1;
    const int M = rows * n, tile_rows = M + step->n_next;
    const float *final_logits = final_logits_of(sweep, step->block);
    float *next_final_logits = final_logits_of(sweep, step->block + 1);
#pragma omp for schedule(dynamic, 1)
    for (int stripe = 0; stripe < LENS_VOCAB_STRIPES; stripe++) {
        float *tile = sweep->tiles + (size_t)parallel_thread_index() * R * sweep->B * LENS_VOCAB_CHUNK;
        double *scratch = sweep->scratch + (size_t)parallel_thread_index() * 2 * LENS_VOCAB_CHUNK;
        const float *in_place = weight_view_f32(sweep->unembedding);
        lens_row_state *states = sweep->states + (size_t)stripe * R * n;
        const int end = stripe_begin(stripe + 1, V, sweep->stripe_align);
        for (int v0 = stripe_begin(stripe, V, sweep->stripe_align); v0 < end; v0 += LENS_VOCAB_CHUNK) {
            const int chunk = end - v0 < LENS_VOCAB_CHUNK ? end - v0 : LENS_VOCAB_CHUNK;
            /* tile (M + n_next, chunk) = normed x the chunk's unembedding rows, transposed */
            const float *chunk_rows = in_place ? in_place + (size_t)v0 * C : chunk_weights_of(sweep);
            if (tile_rows > 0 && in_place == NULL && !sweep->use_bf16)
                weight_view_to_f32(sweep->unembedding, v0, chunk, 0, C, chunk_weights_of(sweep), C);
            if (tile_rows > 0 && sweep->use_bf16)
                bf16_gemm(tile, chunk, sweep->normed_bf16, tile_rows,
                          sweep->bf16_unembedding.rows + (size_t)v0 * bf16_gemm_padded_width(C), chunk, C);
            else if (tile_rows > 0 && sweep->use_tile_gemm)
                tile_gemm(tile, chunk, sweep->packed, tile_rows, chunk_rows, chunk, C);
            else if (tile_rows > 0)
                matmul(tile, sweep->normed, chunk_rows, NULL, tile_rows, C, chunk, MATMUL_WEIGHT_OUT_IN, false);
            for (int j = 0; j < step->n_next; j++)
                memcpy(next_final_logits + (size_t)j * V + v0, tile + ((size_t)M + j) * chunk,
                       (size_t)chunk * sizeof(float));
            for (int i = 0; i < n; i++)
                lens_fused_chunk(states + (size_t)i * R, R, tile + (size_t)i * rows * chunk, chunk,
                                 final_logits + (size_t)i * V + v0, v0, chunk, scratch);
        }
    }
}

/* Cell (row, t) <- stats; its logit_error_bound is already set. exact: the
 * f32 lens, whose top-1 is the exact one by definition. */
static void store_cell(loupe_lens_result *result, int row, int t, const lens_row_stats *stats, bool exact) {
    size_t index = (size_t)row * result->n_positions + t;
    loupe_lens_cell *cell = &result->cells[index];
    int32_t *top_ids = result->top_ids + index * result->topk;
    float *top_probs = result->top_probs + index * result->topk;
    /* The states keep a second entry for top1_guaranteed even when topk is 1. */
    const int n_top = stats->n_top < result->topk ? stats->n_top : result->topk;
    memcpy(top_ids, stats->top_ids, (size_t)n_top * sizeof *top_ids);
    memcpy(top_probs, stats->top_probs, (size_t)n_top * sizeof *top_probs);
    cell->top_ids = top_ids;
    cell->top_probs = top_probs;
    cell->n_top = n_top;
    cell->target = stats->target;
    cell->input = stats->input;
    cell->final_top = stats->final_top;
    cell->entropy = stats->entropy;
    cell->kl_final = stats->kl_final;
    cell->kl_final_rev = stats->kl_final_rev;
    cell->kl_first = stats->kl_first;
    cell->kl_first_rev = stats->kl_first_rev;
    /* With one entry there is no second to beat. */
    cell->top1_guaranteed = exact || stats->n_top < 2 ||
                            (double)stats->top_logits[0] - stats->top_logits[1] > 2.0 * cell->logit_error_bound;
}

/* 1 + the entries of row_logits (V) strictly above entry id. */
static int32_t rank_in_row(const float *row_logits, int V, int32_t id) {
    int32_t above = 0;
    for (int v = 0; v < V; v++) above += row_logits[v] > row_logits[id];
    return above + 1;
}

/* The rank of a token whose logit in the tile was not the one counted
 * against: recounted on the whole row, projected again. */
static int32_t recount_rank(lens_sweep *sweep, const float *normed_row, int32_t id) {
    if (sweep->use_bf16) {
        bf16_convert_rows(sweep->recount_bf16, normed_row, 1, sweep->C);
        bf16_gemm(sweep->recount, sweep->V, sweep->recount_bf16, 1, sweep->bf16_unembedding.rows, sweep->V, sweep->C);
    } else {
        matmul_view(sweep->recount, normed_row, sweep->unembedding, NULL, 1, sweep->C, sweep->V, MATMUL_WEIGHT_OUT_IN,
                    false, chunk_weights_of(sweep));
    }
    return rank_in_row(sweep->recount, sweep->V, id);
}

/* The top-1 of row_logits (V), the smaller id on ties; 0 when no entry is
 * above -inf. */
static int32_t top_of_row(const float *row_logits, int V) {
    float best = -INFINITY;
    int32_t best_id = 0;
    for (int v = 0; v < V; v++)
        if (row_logits[v] > best) best = row_logits[v], best_id = v;
    return best_id;
}

/* The block's cells: each position's stripes merged in stripe order into
 * stripe 0, then finished; and the next block's final top-1 from its kept
 * final row. Called by every thread of the sweep's region. */
static void step_finish(lens_sweep *sweep, loupe_lens_result *result, const lens_step *step) {
    const int R = sweep->R, V = sweep->V, n = step->n, M = R * n;
    const float *final_logits = final_logits_of(sweep, step->block);
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
            for (int k = 0; k < LENS_TOKEN_COUNT; k++) {
                if (!(recount_mask & (1u << k))) continue;
                if (r == R - 1) {
                    tokens[k]->rank = rank_in_row(final_logits + (size_t)i * V, V, tokens[k]->id);
                } else {
#pragma omp critical(lens_recount)
                    tokens[k]->rank = recount_rank(sweep, sweep->normed + ((size_t)i * (R - 1) + r) * sweep->C,
                                                   tokens[k]->id);
                }
            }
            store_cell(result, r, step->begin + i, &stats, !sweep->use_bf16);
        }
    }
    const float *next_final_logits = final_logits_of(sweep, step->block + 1);
#pragma omp for schedule(static)
    for (int j = 0; j < step->n_next; j++)
        sweep->final_top[step->next_begin + j] = top_of_row(next_final_logits + (size_t)j * V, V);
}

loupe_status lens_project_taps(const loupe_model *model, const float *taps, const int32_t *next_ids,
                               const loupe_lens_params *params, loupe_lens_result *result, loupe_error *error) {
    const int R = result->n_rows, T = result->n_positions, K = result->topk;
    const int B = params->position_block < T ? params->position_block : T;
    loupe_model_info info;
    loupe_model_get_info(model, &info);
    const bool bf16 = params->precision == LOUPE_PRECISION_BF16;
    /* top1_guaranteed compares the top-1 with the second: the states keep two. */
    const int state_topk = bf16 && K < 2 && info.n_vocab >= 2 ? 2 : K;
    lens_sweep sweep;
    if (sweep_build(&sweep, model, R, T, state_topk, B, bf16) != 0)
        return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for the lens of %d tokens", T);
    result->precision = params->precision;
    sweep.next_ids = next_ids;
    const int32_t *ids = result->ids;
    /* The sweep runs its matmuls on threads of its own. */
    int blas_threads = matmul_set_threads(1);
    const int n_blocks = (T + B - 1) / B;
    /* One parallel region for every step: its phases are shared out
     * among the threads, so none waits through serial work. Step -1
     * only projects the first block's final row. */
#pragma omp parallel
    for (int block = -1; block < n_blocks; block++) {
        lens_step step = step_of(block, B, T);
        step_prepare(&sweep, result, taps, ids, &step);
        step_sweep(&sweep, &step);
        step_finish(&sweep, result, &step);
    }
    matmul_set_threads(blas_threads);
    sweep_free(&sweep);
    return LOUPE_OK;
}

loupe_status lens_run_texts(const loupe_model *model, const int32_t *const *ids, const int *n_tokens, int n_texts,
                            const loupe_lens_params *params, loupe_lens_result **packed_out, loupe_error *error) {
    *packed_out = NULL;
    error_clear(error);
    loupe_lens_params defaults = loupe_lens_default_params();
    if (params == NULL) params = &defaults;
    if (n_texts < 1) return error_set(error, LOUPE_ERROR_ARGUMENT, "no texts to run the lens on");
    for (int k = 0; k < n_texts; k++) {
        loupe_status status = validate(params, n_tokens[k], error);
        if (status != LOUPE_OK) return status;
    }
    loupe_model_info info;
    loupe_model_get_info(model, &info);
    loupe_status status = validate_tuned(params, &info, error);
    if (status == LOUPE_OK) status = lens_track_check(params->track_ids, params->n_track, info.n_vocab, error);
    if (status == LOUPE_OK && n_texts > 1) status = lens_params_check_one_text(params, "several texts", error);
    if (status != LOUPE_OK) return status;
    int64_t total = 0;
    for (int k = 0; k < n_texts; k++) total += n_tokens[k];
    if (total > INT32_MAX) return error_set(error, LOUPE_ERROR_LIMIT, "%lld tokens are too many for one lens", (long long)total);
    const int T = (int)total;
    const int C = info.n_embd, V = info.n_vocab;
    const int R = loupe_lens_row_count_with(info.n_layer, params->subblocks, params->contributions);
    const int K = params->topk < V ? params->topk : V;
    loupe_lens_result *result = result_create_with(info.n_layer, params->subblocks, params->contributions, T, K);
    int longest = 0;
    for (int k = 0; k < n_texts; k++) longest = n_tokens[k] > longest ? n_tokens[k] : longest;
    float *taps = malloc((size_t)R * T * C * sizeof(float));  /* (R, T, C): the texts end to end */
    float *text_taps = n_texts > 1 ? malloc((size_t)R * longest * C * sizeof(float)) : taps; /* (R, n_k, C) */
    int32_t *next_ids = malloc((size_t)T * sizeof *next_ids);
    if (result == NULL || taps == NULL || text_taps == NULL || next_ids == NULL)
        status = error_set(error, LOUPE_ERROR_MEMORY, "out of memory for the lens of %d tokens", T);
    for (int k = 0, offset = 0; k < n_texts && status == LOUPE_OK; offset += n_tokens[k], k++) {
        const int n = n_tokens[k];
        memcpy(result->ids + offset, ids[k], (size_t)n * sizeof *next_ids);
        for (int t = 0; t < n; t++) next_ids[offset + t] = t + 1 < n ? ids[k][t + 1] : -1;
        status = lens_taps_collect(model, ids[k], n, params->subblocks, params->contributions, text_taps, error);
        if (text_taps != taps)
            for (int r = 0; r < R && status == LOUPE_OK; r++)
                memcpy(taps + ((size_t)r * T + offset) * C, text_taps + (size_t)r * n * C, (size_t)n * C * sizeof(float));
    }
    if (status == LOUPE_OK && params->tuned != NULL) {
        loupe_tuned_lens_info tuned;
        loupe_tuned_lens_get_info(params->tuned, &tuned);
        result->tuned_directory = strdup(tuned.directory);
        if (result->tuned_directory == NULL) status = error_set(error, LOUPE_ERROR_MEMORY, "out of memory");
    }
    if (status == LOUPE_OK && params->tuned != NULL) status = translate_taps(params->tuned, taps, R, T, C, error);
    if (status == LOUPE_OK) status = lens_project_taps(model, taps, next_ids, params, result, error);
    if (status == LOUPE_OK) status = attach_tracked(result, model, taps, params, error);
    if (status == LOUPE_OK) status = attach_attributions(result, model, taps, next_ids, params, error);
    free(next_ids);
    if (text_taps != taps) free(text_taps);
    if (params->keep_taps && result != NULL) result->taps = taps;
    else free(taps);
    if (status != LOUPE_OK) {
        loupe_lens_free(result);
        return status;
    }
    *packed_out = result;
    return LOUPE_OK;
}

loupe_status loupe_lens_run(const loupe_model *model, const int32_t *ids, int n_tokens,
                            const loupe_lens_params *params, loupe_lens_result **result_out,
                            loupe_error *error) {
    return lens_run_texts(model, &ids, &n_tokens, 1, params, result_out, error);
}

void loupe_lens_free(loupe_lens_result *result) {
    if (result == NULL) return;
    free(result->row_names);
    free(result->ids);
    free(result->cells);
    free(result->top_ids);
    free(result->top_probs);
    free(result->tuned_directory);
    free(result->tracked);
    free(result->attributions);
    free(result->taps);
    free(result);
}

int loupe_lens_n_rows(const loupe_lens_result *result) { return result->n_rows; }

int loupe_lens_n_positions(const loupe_lens_result *result) { return result->n_positions; }

loupe_precision loupe_lens_precision(const loupe_lens_result *result) { return result->precision; }

const char *loupe_lens_row_name(const loupe_lens_result *result, int row) {
    if (row < 0 || row >= result->n_rows) return NULL;
    return result->row_names[row];
}

const int32_t *loupe_lens_ids(const loupe_lens_result *result) { return result->ids; }

const char *loupe_lens_tuned_directory(const loupe_lens_result *result) { return result->tuned_directory; }

const float *loupe_lens_taps(const loupe_lens_result *result) { return result->taps; }

const loupe_lens_cell *loupe_lens_cell_at(const loupe_lens_result *result, int row, int position) {
    if (row < 0 || row >= result->n_rows || position < 0 || position >= result->n_positions) return NULL;
    return &result->cells[(size_t)row * result->n_positions + position];
}
