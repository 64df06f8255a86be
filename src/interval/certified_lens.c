/*
 * certified_lens.c - the certified lens: the certified forward pass keeps
 * every tap as balls (R, T, C), the final norm runs on them as balls, and
 * chunks of (row, position) cells are multiplied with the unembedding as a
 * ball product; each cell's logit intervals (V) then give its certified
 * quantities. The exponentials of the probability bounds run through
 * vector_exp with its stated error bound, on float arguments rounded in
 * the safe direction.
 */
#include "interval/certified_lens.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "interval/ball.h"
#include "interval/ball_matmul.h"
#include "interval/certified_forward.h"
#include "kernels/parallel.h"
#include "kernels/vector_exp.h"
#include "model/model.h"
#include "util/error.h"

/* Cells multiplied with the unembedding at once. */
enum { CERTIFIED_LENS_CHUNK = 64 };

/* The taps as balls, in row order. */
typedef struct ball_tap_store {
    double *mid; /* (R, T, C) */
    float *rad;  /* (R, T, C) */
    int next_row, n_rows;
} ball_tap_store;

static loupe_status store_ball_tap(void *user, loupe_tap_kind kind, int layer, const double *mid, const float *rad,
                                   int T, int C) {
    (void)kind;
    (void)layer;
    ball_tap_store *store = user;
    if (store->next_row >= store->n_rows) return LOUPE_ERROR_ARGUMENT; /* cannot happen: rows counted from the model */
    size_t at = (size_t)store->next_row * T * C, n = (size_t)T * C;
    memcpy(store->mid + at, mid, n * sizeof(double));
    memcpy(store->rad + at, rad, n * sizeof(float));
    store->next_row++;
    return LOUPE_OK;
}

/* The largest float <= d, and the smallest >= d. */
static float float_down(double d) {
    float f = (float)d;
    return (double)f > d ? nextafterf(f, -INFINITY) : f;
}

static float float_up(double d) {
    float f = (float)d;
    return (double)f < d ? nextafterf(f, INFINITY) : f;
}

/* Per-thread scratch of one cell. */
typedef struct cell_scratch {
    float *lo_exp, *hi_exp; /* (V) shifted exponentials' arguments, then values */
} cell_scratch;

/* The rank intervals of tokens a and b (b may be -1: none) among the logit
 * intervals (V), in one pass: 1 + the tokens certainly above (lower bound
 * over the token's upper bound), 1 + those possibly above. */
static void rank_bounds(const double *mid, const float *rad, int V, int32_t a, int32_t b, int32_t rank_a[2],
                        int32_t rank_b[2]) {
    double a_lo, a_hi, b_lo = INFINITY, b_hi = INFINITY;
    ball_bounds(mid[a], rad[a], &a_lo, &a_hi);
    if (b >= 0) ball_bounds(mid[b], rad[b], &b_lo, &b_hi);
    int32_t a_certainly = 0, a_possibly = 0, b_certainly = 0, b_possibly = 0;
    for (int j = 0; j < V; j++) {
        double lo, hi;
        ball_bounds(mid[j], rad[j], &lo, &hi);
        a_certainly += j != a && lo > a_hi;
        a_possibly += j != a && hi > a_lo;
        b_certainly += j != b && lo > b_hi;
        b_possibly += j != b && hi > b_lo;
    }
    rank_a[0] = 1 + a_certainly, rank_a[1] = 1 + a_possibly;
    if (b >= 0) rank_b[0] = 1 + b_certainly, rank_b[1] = 1 + b_possibly;
}

/* The probability bounds of token id from the exponentials' bounds. */
static void probability_of(const cell_scratch *s, double sum_lo, double sum_hi, int32_t id, float p[2]) {
    if (!(sum_hi < INFINITY)) { /* an infinite logit bound: nothing is known */
        p[0] = 0.0f, p[1] = 1.0f;
        return;
    }
    double p_lo, p_hi;
    ball_probability_bounds(s->lo_exp[id], s->hi_exp[id], sum_lo, sum_hi, &p_lo, &p_hi);
    p[0] = float_down(p_lo);
    p[1] = float_up(p_hi);
}

/* One cell from its logits mid, rad (V). */
static void cell_compute(certified_cell *cell, const double *mid, const float *rad, int V, int32_t input_id,
                         int32_t target_id, cell_scratch *s) {
    /* one pass: the two largest midpoints, the two largest upper bounds */
    int top = 0, second = -1, highest = 0;
    double shift = -INFINITY, runner_hi = -INFINITY; /* the largest upper bound, and the largest but highest's */
    for (int j = 0; j < V; j++) {
        double lo, hi;
        ball_bounds(mid[j], rad[j], &lo, &hi);
        if (j > 0 && mid[j] > mid[top]) second = top, top = j;
        else if (j > 0 && (second < 0 || mid[j] > mid[second])) second = j;
        if (hi > shift) runner_hi = shift, shift = hi, highest = j;
        else if (hi > runner_hi) runner_hi = hi;
    }
    if (second < 0) second = top; /* V = 1 */
    double other_hi = highest == top ? runner_hi : shift; /* the largest upper bound of the tokens but top */
    /* the exponentials' arguments, rounded in the safe direction */
    for (int j = 0; j < V; j++) {
        double lo, hi;
        ball_bounds(mid[j], rad[j], &lo, &hi);
        double a = lo - shift, b = hi - shift;
        s->lo_exp[j] = float_down(a - fabs(a) * 0x1p-52);
        s->hi_exp[j] = float_up(b + fabs(b) * 0x1p-52);
    }
    vector_exp(s->lo_exp, s->lo_exp, (size_t)V);
    vector_exp(s->hi_exp, s->hi_exp, (size_t)V);
    double sum_lo = 0.0, sum_hi = 0.0;
    for (int j = 0; j < V && isfinite(shift); j++) {
        /* vector_exp's bound: relative where normal, 1e-44 absolute below */
        double e_lo = (double)s->lo_exp[j] * (1.0 - VECTOR_EXP_MAX_RELATIVE_ERROR) - 1e-44;
        double e_hi = (double)s->hi_exp[j] * (1.0 + VECTOR_EXP_MAX_RELATIVE_ERROR) + 1e-44;
        s->lo_exp[j] = e_lo > 0.0 ? float_down(e_lo) : 0.0f;
        s->hi_exp[j] = float_up(e_hi);
        sum_lo += s->lo_exp[j];
        sum_hi += s->hi_exp[j];
    }
    sum_lo = ball_chain_lower(sum_lo, V);
    sum_hi = isfinite(shift) ? ball_chain_upper(sum_hi, V) : INFINITY;
    double top_lo, top_hi;
    ball_bounds(mid[top], rad[top], &top_lo, &top_hi);
    cell->top1 = top;
    cell->top1_certain = top_lo > other_hi;
    double spread = (double)rad[top] + rad[second];
    cell->certainty = spread > 0.0 ? (float)((mid[top] - mid[second]) / spread) : INFINITY;
    double lo, hi;
    ball_bounds(mid[input_id], rad[input_id], &lo, &hi);
    cell->input_logit[0] = float_down(lo);
    cell->input_logit[1] = float_up(hi);
    probability_of(s, sum_lo, sum_hi, input_id, cell->input_prob);
    rank_bounds(mid, rad, V, input_id, target_id, cell->input_rank, cell->target_rank);
    cell->has_target = target_id >= 0;
    if (cell->has_target) {
        ball_bounds(mid[target_id], rad[target_id], &lo, &hi);
        cell->target_logit[0] = float_down(lo);
        cell->target_logit[1] = float_up(hi);
        probability_of(s, sum_lo, sum_hi, target_id, cell->target_prob);
    }
}

void certified_lens_free(certified_lens *lens) {
    if (lens == NULL) return;
    free(lens->cells);
    free(lens->rows);
    free(lens);
}

const certified_cell *certified_lens_cell(const certified_lens *lens, int row, int position) {
    if (row < 0 || row >= lens->n_rows || position < 0 || position >= lens->n_positions) return NULL;
    return &lens->cells[(size_t)row * lens->n_positions + position];
}

/* Everything the lens allocates besides its result, in one place. */
typedef struct certified_lens_state {
    double *tap_mid, *normed_mid;   /* (R, T, C) */
    float *tap_rad, *normed_rad;    /* (R, T, C) */
    double *logit_mid;              /* (CHUNK, V) */
    float *logit_rad;               /* (CHUNK, V) */
    float *radius_scratch;          /* (T C) */
    double *unembedding_values;     /* (V, C) */
    float *unembedding_magnitudes;  /* (V, C) */
    float *unembedding_floats;      /* (V, C) the unembedding as float32 when it is stored in half precision */
    float *cell_scratch;            /* (threads, 2 V) */
    ball_matmul_workspace products;
} certified_lens_state;

static void state_free(certified_lens_state *s) {
    free(s->tap_mid);
    free(s->tap_rad);
    free(s->normed_mid);
    free(s->normed_rad);
    free(s->logit_mid);
    free(s->logit_rad);
    free(s->unembedding_values);
    free(s->unembedding_magnitudes);
    free(s->unembedding_floats);
    free(s->cell_scratch);
    free(s->radius_scratch);
    ball_matmul_workspace_free(&s->products);
}

static int state_build(certified_lens_state *s, size_t R, size_t T, size_t C, size_t V) {
    *s = (certified_lens_state){0};
    size_t taps = R * T * C, chunk = CERTIFIED_LENS_CHUNK;
    s->tap_mid = malloc(taps * sizeof(double));
    s->tap_rad = malloc(taps * sizeof(float));
    s->normed_mid = malloc(taps * sizeof(double));
    s->normed_rad = malloc(taps * sizeof(float));
    s->radius_scratch = malloc(T * C * sizeof(float));
    s->logit_mid = malloc(chunk * V * sizeof(double));
    s->logit_rad = malloc(chunk * V * sizeof(float));
    s->unembedding_values = malloc(V * C * sizeof(double));
    s->unembedding_magnitudes = malloc(V * C * sizeof(float));
    s->unembedding_floats = malloc(V * C * sizeof(float));
    s->cell_scratch = malloc((size_t)parallel_max_threads() * 2 * V * sizeof(float));
    if (s->tap_mid == NULL || s->tap_rad == NULL || s->normed_mid == NULL || s->normed_rad == NULL ||
        s->logit_mid == NULL || s->logit_rad == NULL || s->unembedding_values == NULL ||
        s->unembedding_magnitudes == NULL || s->unembedding_floats == NULL || s->cell_scratch == NULL || s->radius_scratch == NULL ||
        ball_matmul_workspace_build(&s->products, chunk * C, chunk * V, 0) != 0) {
        state_free(s);
        return -1;
    }
    return 0;
}

/* Cells [first, first + n) of the (R T) flattened cells: their product
 * with the unembedding, then each cell. */
static void chunk_run(certified_lens_state *s, certified_lens *lens, const ball_weight *unembedding,
                      const int32_t *ids, int first, int n, int C, int V) {
    size_t at = (size_t)first * C;
    ball_matmul(s->logit_mid, s->logit_rad, s->normed_mid + at, s->normed_rad + at, unembedding, NULL, n,
                lens->weight_radius, false, &s->products);
    int T = lens->n_positions;
#pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < n; i++) {
        int cell = first + i, t = cell % T;
        float *scratch = s->cell_scratch + (size_t)parallel_thread_index() * 2 * V;
        cell_scratch cs = {.lo_exp = scratch, .hi_exp = scratch + V};
        cell_compute(&lens->cells[cell], s->logit_mid + (size_t)i * V, s->logit_rad + (size_t)i * V, V, ids[t],
                     t + 1 < T ? ids[t + 1] : -1, &cs);
    }
}

loupe_status certified_lens_run(const loupe_model *model, const int32_t *ids, int T, bool subblocks,
                                double weight_radius, certified_lens **out, loupe_error *error) {
    *out = NULL;
    const model_description *d = &model->description;
    loupe_status status = model_check_input(model, ids, T, NULL, error);
    if (status != LOUPE_OK) return status;
    int R = loupe_lens_row_count(d->n_layer, subblocks), C = d->n_embd, V = d->n_vocab;
    certified_lens *lens = calloc(1, sizeof *lens);
    certified_lens_state s;
    if (lens == NULL || state_build(&s, (size_t)R, (size_t)T, (size_t)C, (size_t)V) != 0) {
        free(lens);
        return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for a %d-token certified lens", T);
    }
    lens->n_rows = R;
    lens->n_positions = T;
    lens->weight_radius = weight_radius;
    lens->cells = calloc((size_t)R * T, sizeof *lens->cells);
    lens->rows = calloc((size_t)R, sizeof *lens->rows);
    if (lens->cells == NULL || lens->rows == NULL) {
        state_free(&s);
        certified_lens_free(lens);
        return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for a %d-token certified lens", T);
    }
    ball_tap_store store = {.mid = s.tap_mid, .rad = s.tap_rad, .n_rows = R};
    certified_forward_params params = {.tap = store_ball_tap, .tap_user = &store, .tap_after_attention = subblocks,
                                       .weight_radius = weight_radius};
    status = certified_forward(model, ids, T, &params, error);
    if (status == LOUPE_OK) {
        size_t per_row = (size_t)T * C;
        for (int row = 0; row < R; row++) {
            double median, max;
            certified_relative_radius(s.tap_mid + row * per_row, s.tap_rad + row * per_row, per_row, s.radius_scratch,
                                      &median, &max);
            lens->rows[row] = (certified_row){(float)median, (float)max};
        }
        certified_final_norm(model, s.tap_mid, s.tap_rad, R * T, weight_radius, s.normed_mid, s.normed_rad);
        ball_weight unembedding;
        ball_weight_prepare(&unembedding, &model->unembedding, C, V, MATMUL_WEIGHT_OUT_IN, s.unembedding_floats,
                            s.unembedding_values, s.unembedding_magnitudes);
        for (int first = 0; first < R * T; first += CERTIFIED_LENS_CHUNK) {
            int n = R * T - first < CERTIFIED_LENS_CHUNK ? R * T - first : CERTIFIED_LENS_CHUNK;
            chunk_run(&s, lens, &unembedding, ids, first, n, C, V);
        }
    }
    state_free(&s);
    if (status != LOUPE_OK) {
        certified_lens_free(lens);
        return status;
    }
    *out = lens;
    return LOUPE_OK;
}
