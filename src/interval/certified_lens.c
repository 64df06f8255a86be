/*
 * certified_lens.c - the certified lens: the certified forward pass keeps
 * every tap as balls (R, T, C), the final norm runs on them as balls, and
 * chunks of positions, every row of each, are multiplied with the
 * unembedding as a ball product; each cell's logit intervals (V) then give
 * its certified quantities, and with the input and final rows of its
 * position its KL intervals. The exponentials of the probability bounds run
 * through vector_exp with its stated error bound, on float arguments
 * rounded in the safe direction.
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
#include "interval/ball_divergence.h"
#include "interval/ball_matmul.h"
#include "interval/certified_forward.h"
#include "kernels/vector_exp.h"
#include "model/model.h"
#include "util/error.h"

/* Cells multiplied with the unembedding at once (at least one position's
 * rows). The unembedding is read once per chunk, in double for the narrow
 * rows, so fewer and larger chunks are faster: 160 cells (12 positions of
 * GPT-2 small) keep the chunk's logits and scratch near 200 MB at
 * V = 50257. */
enum { CERTIFIED_LENS_CHUNK = 160 };

/* The taps as balls, position-major (T, R, C), so that a chunk of positions
 * holds every row of each; and each row's relative radius. */
typedef struct ball_tap_store {
    double *mid; /* (T, R, C) */
    float *rad;  /* (T, R, C) */
    certified_row *rows; /* (R) */
    certified_cell *cells; /* (R, T): each cell's radius */
    float *radius_scratch; /* (T C) */
    int next_row, n_rows;
} ball_tap_store;

static loupe_status store_ball_tap(void *user, loupe_tap_kind kind, int layer, const double *mid, const float *rad,
                                   int T, int C) {
    (void)kind;
    (void)layer;
    ball_tap_store *store = user;
    int row = store->next_row, R = store->n_rows;
    if (row >= R) return LOUPE_ERROR_ARGUMENT; /* cannot happen: rows counted from the model */
    double median, max;
    certified_relative_radius(mid, rad, (size_t)T * C, store->radius_scratch, &median, &max);
    store->rows[row] = (certified_row){(float)median, (float)max};
    for (int t = 0; t < T; t++) {
        certified_relative_radius(mid + (size_t)t * C, rad + (size_t)t * C, (size_t)C, store->radius_scratch, &median,
                                  &max);
        store->cells[(size_t)row * T + t].radius = (float)median;
        size_t at = ((size_t)t * R + row) * C;
        memcpy(store->mid + at, mid + (size_t)t * C, (size_t)C * sizeof(double));
        memcpy(store->rad + at, rad + (size_t)t * C, (size_t)C * sizeof(float));
    }
    store->next_row++;
    return LOUPE_OK;
}

/* One cell's scratch, kept for its position's KL divergences. */
typedef struct cell_scratch {
    float *lo_exp, *hi_exp; /* (V) shifted exponentials' arguments, then values, then the probability bounds */
    double z[2];            /* the log-normaliser's bounds */
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
#pragma omp simd reduction(+ : a_certainly, a_possibly, b_certainly, b_possibly)
    for (int j = 0; j < V; j++) {
        double lo, hi;
        ball_bounds(mid[j], rad[j], &lo, &hi);
        /* & rather than &&: no branch, so the loop vectorises */
        a_certainly += (j != a) & (lo > a_hi);
        a_possibly += (j != a) & (hi > a_lo);
        b_certainly += (j != b) & (lo > b_hi);
        b_possibly += (j != b) & (hi > b_lo);
    }
    rank_a[0] = 1 + a_certainly, rank_a[1] = 1 + a_possibly;
    if (b >= 0) rank_b[0] = 1 + b_certainly, rank_b[1] = 1 + b_possibly;
}

/* The bounds of every token's probability into s (lo_exp, hi_exp become
 * p_lo, p_hi) and of the log-normaliser, for logits mid, rad (V) whose
 * largest upper bound shift is finite: the exponentials' arguments
 * rounded in the safe direction, vector_exp with its error bound, the sums
 * of the bounds with their rounding. */
static void exponential_bounds(cell_scratch *s, const double *mid, const float *rad, double shift, int V) {
    float *lo_exp = s->lo_exp, *hi_exp = s->hi_exp;
#pragma omp simd
    for (int j = 0; j < V; j++) {
        double lo, hi;
        ball_bounds(mid[j], rad[j], &lo, &hi);
        double a = lo - shift, b = hi - shift;
        lo_exp[j] = ball_float_down(a - fabs(a) * 0x1p-52);
        hi_exp[j] = ball_float_up(b + fabs(b) * 0x1p-52);
    }
    vector_exp(lo_exp, lo_exp, (size_t)V);
    vector_exp(hi_exp, hi_exp, (size_t)V);
#pragma omp simd
    for (int j = 0; j < V; j++) {
        /* vector_exp's bound: relative where normal, 1e-44 absolute below */
        double e_lo = (double)lo_exp[j] * (1.0 - VECTOR_EXP_MAX_RELATIVE_ERROR) - 1e-44;
        double e_hi = (double)hi_exp[j] * (1.0 + VECTOR_EXP_MAX_RELATIVE_ERROR) + 1e-44;
        float low = ball_float_down(e_lo);
        lo_exp[j] = e_lo > 0.0 ? low : 0.0f;
        hi_exp[j] = ball_float_up(e_hi);
    }
    double sum_lo = 0.0, sum_hi = 0.0;
    /* any order of summation: the chain bound does not depend on it */
#pragma omp simd reduction(+ : sum_lo, sum_hi)
    for (int j = 0; j < V; j++) sum_lo += lo_exp[j], sum_hi += hi_exp[j];
    sum_lo = ball_chain_lower(sum_lo, V);
    sum_hi = ball_chain_upper(sum_hi, V);
    ball_log_normaliser(shift, sum_lo, sum_hi, s->z);
#pragma omp simd
    for (int j = 0; j < V; j++) {
        ball_probability_bounds_float(lo_exp[j], hi_exp[j], sum_lo, sum_hi, &lo_exp[j], &hi_exp[j]);
    }
}

/* One cell from its logits mid, rad (V), all but the KL divergences; s
 * keeps its probability bounds and log-normaliser. */
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
    if (isfinite(shift)) {
        exponential_bounds(s, mid, rad, shift, V);
    } else { /* an infinite logit bound: nothing is known of the probabilities */
        s->z[0] = -INFINITY, s->z[1] = INFINITY;
        for (int j = 0; j < V; j++) s->lo_exp[j] = 0.0f, s->hi_exp[j] = 1.0f;
    }
    double top_lo, top_hi;
    ball_bounds(mid[top], rad[top], &top_lo, &top_hi);
    cell->top1 = isfinite(rad[top]) ? top : -1;
    cell->top1_certain = top_lo > other_hi;
    double spread = (double)rad[top] + rad[second];
    cell->certainty = spread > 0.0 ? (float)((mid[top] - mid[second]) / spread) : INFINITY;
    double lo, hi;
    ball_bounds(mid[input_id], rad[input_id], &lo, &hi);
    cell->input_logit[0] = ball_float_down(lo);
    cell->input_logit[1] = ball_float_up(hi);
    cell->input_prob[0] = s->lo_exp[input_id], cell->input_prob[1] = s->hi_exp[input_id];
    rank_bounds(mid, rad, V, input_id, target_id, cell->input_rank, cell->target_rank);
    cell->has_target = target_id >= 0;
    if (cell->has_target) {
        ball_bounds(mid[target_id], rad[target_id], &lo, &hi);
        cell->target_logit[0] = ball_float_down(lo);
        cell->target_logit[1] = ball_float_up(hi);
        cell->target_prob[0] = s->lo_exp[target_id], cell->target_prob[1] = s->hi_exp[target_id];
    }
    ball_softmax_row row = {mid, rad, {s->z[0], s->z[1]}, s->lo_exp, s->hi_exp};
    ball_entropy_bounds(&row, V, cell->entropy);
}

/* The KL interval of KL(P || Q) into out (clamped [0, 0] for one row
 * with itself: exactly 0). */
static void kl_of(const ball_softmax_row *p, const ball_softmax_row *q, int V, float out[2]) {
    if (p->mid == q->mid) out[0] = out[1] = 0.0f;
    else ball_kl_bounds(p, q, V, out);
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
    double *tap_mid, *normed_mid;   /* (T, R, C) */
    float *tap_rad, *normed_rad;    /* (T, R, C) */
    double *logit_mid;              /* (N, V), N = the cells of a chunk */
    float *logit_rad;               /* (N, V) */
    float *radius_scratch;          /* (T C) */
    double *unembedding_values;     /* (V, C) */
    float *unembedding_magnitudes;  /* (V, C) */
    float *unembedding_floats;      /* (V, C) the unembedding as float32 when it is stored in half precision */
    float *cell_scratch;            /* (N, 2 V) */
    cell_scratch *cells;            /* (N) */
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
    free(s->cells);
    free(s->radius_scratch);
    ball_matmul_workspace_free(&s->products);
}

/* The positions of a chunk: as many whole positions as fit CHUNK cells,
 * at least one. */
static int chunk_positions(int R) { return R < CERTIFIED_LENS_CHUNK ? CERTIFIED_LENS_CHUNK / R : 1; }

static int state_build(certified_lens_state *s, size_t R, size_t T, size_t C, size_t V) {
    *s = (certified_lens_state){0};
    size_t taps = R * T * C, chunk = (size_t)chunk_positions((int)R) * R;
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
    s->cell_scratch = malloc(chunk * 2 * V * sizeof(float));
    s->cells = malloc(chunk * sizeof *s->cells);
    if (s->tap_mid == NULL || s->tap_rad == NULL || s->normed_mid == NULL || s->normed_rad == NULL ||
        s->logit_mid == NULL || s->logit_rad == NULL || s->unembedding_values == NULL ||
        s->unembedding_magnitudes == NULL || s->unembedding_floats == NULL || s->cell_scratch == NULL || s->cells == NULL || s->radius_scratch == NULL ||
        ball_matmul_workspace_build(&s->products, chunk * C, chunk * V, 0) != 0) {
        state_free(s);
        return -1;
    }
    return 0;
}

/* The softmax row of chunk cell i. */
static ball_softmax_row chunk_row(const certified_lens_state *s, int i, int V) {
    const cell_scratch *cs = &s->cells[i];
    return (ball_softmax_row){s->logit_mid + (size_t)i * V, s->logit_rad + (size_t)i * V, {cs->z[0], cs->z[1]},
                              cs->lo_exp, cs->hi_exp};
}

/* Positions [first, first + n) with every row: their product with the
 * unembedding, then each cell, then each cell's KL divergences against
 * its position's input and final rows. */
static void chunk_run(certified_lens_state *s, certified_lens *lens, const ball_weight *unembedding,
                      const int32_t *ids, int first, int n, int C, int V) {
    int T = lens->n_positions, R = lens->n_rows, cells = n * R;
    size_t at = (size_t)first * R * C;
    ball_matmul(s->logit_mid, s->logit_rad, s->normed_mid + at, s->normed_rad + at, unembedding, NULL, cells,
                lens->weight_radius, false, &s->products);
#pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < cells; i++) {
        int t = first + i / R, row = i % R;
        float *scratch = s->cell_scratch + (size_t)i * 2 * V;
        s->cells[i] = (cell_scratch){.lo_exp = scratch, .hi_exp = scratch + V};
        cell_compute(&lens->cells[(size_t)row * T + t], s->logit_mid + (size_t)i * V, s->logit_rad + (size_t)i * V,
                     V, ids[t], t + 1 < T ? ids[t + 1] : -1, &s->cells[i]);
    }
#pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < cells; i++) {
        int t = first + i / R, row = i % R, input = i - row, final = input + R - 1;
        certified_cell *cell = &lens->cells[(size_t)row * T + t];
        ball_softmax_row here = chunk_row(s, i, V), first_row = chunk_row(s, input, V),
                         final_row = chunk_row(s, final, V);
        kl_of(&final_row, &here, V, cell->kl_final);
        kl_of(&here, &final_row, V, cell->kl_final_rev);
        kl_of(&first_row, &here, V, cell->kl_first);
        kl_of(&here, &first_row, V, cell->kl_first_rev);
    }
}

loupe_status certified_lens_run(const loupe_model *model, const int32_t *ids, int T, bool subblocks,
                                double weight_radius, certified_kernel_widths *widths, certified_lens **out,
                                loupe_error *error) {
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
    ball_tap_store store = {.mid = s.tap_mid, .rad = s.tap_rad, .rows = lens->rows, .cells = lens->cells,
                            .radius_scratch = s.radius_scratch, .n_rows = R};
    certified_forward_params params = {.tap = store_ball_tap, .tap_user = &store, .tap_after_attention = subblocks,
                                       .weight_radius = weight_radius, .widths = widths};
    status = certified_forward(model, ids, T, &params, error);
    if (status == LOUPE_OK) {
        certified_final_norm(model, s.tap_mid, s.tap_rad, R * T, weight_radius, s.normed_mid, s.normed_rad);
        ball_weight unembedding;
        ball_weight_prepare(&unembedding, &model->unembedding, C, V, MATMUL_WEIGHT_OUT_IN, s.unembedding_floats,
                            s.unembedding_values, s.unembedding_magnitudes);
        int step = chunk_positions(R);
        for (int first = 0; first < T; first += step)
            chunk_run(&s, lens, &unembedding, ids, first, T - first < step ? T - first : step, C, V);
    }
    state_free(&s);
    if (status != LOUPE_OK) {
        certified_lens_free(lens);
        return status;
    }
    *out = lens;
    return LOUPE_OK;
}
