/*
 * test_certified_forward.c - the certified forward pass and lens on the tiny
 * fixtures, held to properties that an independent computation decides:
 * the ordinary float32 forward pass (kernels of src/kernels, a different
 * arithmetic) lies inside every certified ball of every tap, up to its own
 * float32 rounding (the balls, with double midpoints, can be narrower than
 * float32's error, which is then all that separates them); the certified
 * lens's intervals contain the float32 lens's logits, probabilities and
 * ranks; top1_certain cells have the float lens's top-1; widening the
 * weights (bf16) only widens the balls. Arb's 256-bit evaluation is the
 * oracle of test_certified_arb.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "interval/ball.h"
#include "interval/certified_forward.h"
#include "interval/certified_lens.h"
#include "loupe.h"
#include "test_support.h"

enum { MAX_ROWS = 16, TEST_T = 12 };

/* The float32 taps (R, T, C), collected by the ordinary forward pass. */
typedef struct float_taps {
    float *taps;
    int n;
} float_taps;

static loupe_status keep_float_tap(void *user, loupe_tap_kind kind, int layer, const float *residual, int T, int C) {
    (void)kind;
    (void)layer;
    float_taps *store = user;
    memcpy(store->taps + (size_t)store->n * T * C, residual, (size_t)T * C * sizeof(float));
    store->n++;
    return LOUPE_OK;
}

typedef struct ball_check {
    const float_taps *reference;
    int n, outside;
    double widest; /* the largest relative radius of the first two taps (embedding, h1.attn) */
    const float *previous_rad; /* (R, T, C) radii of a narrower run, or NULL */
    float *rad_copy;           /* (R, T, C) this run's radii */
    int narrower_violations;
} ball_check;

static loupe_status check_ball_tap(void *user, loupe_tap_kind kind, int layer, const double *mid, const float *rad,
                                   int T, int C) {
    (void)kind;
    (void)layer;
    ball_check *check = user;
    const float *ref = check->reference->taps + (size_t)check->n * T * C;
    double squares = 0.0;
    for (size_t i = 0; i < (size_t)T * C; i++) squares += (double)ref[i] * ref[i];
    /* float32's error after a few blocks: well below 1e-4 of the row's RMS */
    double float_error = 1e-4 * sqrt(squares / ((double)T * C));
    for (size_t i = 0; i < (size_t)T * C; i++) {
        double lo, hi;
        ball_bounds(mid[i], rad[i], &lo, &hi);
        if (!(ref[i] >= lo - float_error && ref[i] <= hi + float_error)) {
            if (check->outside < 5)
                fprintf(stderr, "tap %d entry %zu: float32 %.9g outside %.9g +- %.3g\n", check->n, i, ref[i], mid[i],
                        rad[i]);
            check->outside++;
        }
        double relative = rad[i] / (fabs(mid[i]) + 1e-30);
        if (check->n <= 1 && fabs(mid[i]) > 1e-3 && relative > check->widest) check->widest = relative;
        size_t at = (size_t)check->n * T * C + i;
        if (check->previous_rad != NULL && check->previous_rad[at] > rad[i]) check->narrower_violations++;
        check->rad_copy[at] = rad[i];
    }
    check->n++;
    return LOUPE_OK;
}

/* The float32 lens computes with float roundings of its own (some 1e-6 of a
 * logit, vector_exp's 1.5e-7 in a probability): where a certified interval
 * is narrower than those, the float value may sit just outside the exact
 * one. value is inside [lo, hi] widened by that much. */
static bool near_inside(float value, const float bounds[2]) {
    double slack = 1e-5 * (1.0 + fabs((double)value));
    return value >= bounds[0] - slack && value <= bounds[1] + slack;
}

static void test_model(const char *name) {
    char directory[4096];
    snprintf(directory, sizeof directory, "%s", test_data_path(name));
    loupe_model *model = NULL;
    loupe_error error;
    if (loupe_model_open(directory, &model, &error) != LOUPE_OK) {
        CHECK_MSG(0, "%s: %s", name, error.message);
        return;
    }
    loupe_model_info info;
    loupe_model_get_info(model, &info);
    int T = TEST_T, C = info.n_embd, R = 1 + 2 * info.n_layer;
    int32_t ids[TEST_T];
    for (int t = 0; t < T; t++) ids[t] = (int32_t)((t * 7919 + 13) % info.n_vocab);
    float_taps reference = {.taps = malloc((size_t)R * T * C * sizeof(float))};
    loupe_forward_params plain = loupe_forward_default_params();
    plain.tap = keep_float_tap;
    plain.tap_user = &reference;
    plain.tap_after_attention = true;
    CHECK(loupe_model_forward(model, ids, T, &plain, NULL, &error) == LOUPE_OK);
    CHECK(reference.n == R);

    float *exact_rad = malloc((size_t)R * T * C * sizeof(float)), *wide_rad = malloc((size_t)R * T * C * sizeof(float));
    ball_check check = {.reference = &reference, .rad_copy = exact_rad};
    certified_forward_params params = {.tap = check_ball_tap, .tap_user = &check, .tap_after_attention = true};
    CHECK(certified_forward(model, ids, T, &params, &error) == LOUPE_OK);
    CHECK_MSG(check.n == R, "%s: %d taps", name, check.n);
    CHECK_MSG(check.outside == 0, "%s: %d float32 entries outside their balls", name, check.outside);
    /* useful, not only valid: the first block's balls stay far below the values */
    CHECK_MSG(check.widest < 1e-2, "%s: a relative radius of %g", name, check.widest);
    printf("%s: widest relative radius of embedding and h1.attn at R = 0: %.3g\n", name, check.widest);

    ball_check wide = {.reference = &reference, .rad_copy = wide_rad, .previous_rad = exact_rad};
    params.tap_user = &wide;
    params.weight_radius = 0x1p-8;
    CHECK(certified_forward(model, ids, T, &params, &error) == LOUPE_OK);
    CHECK_MSG(wide.outside == 0, "%s bf16: %d float32 entries outside", name, wide.outside);
    CHECK_MSG(wide.narrower_violations == 0, "%s: %d balls narrower at bf16", name, wide.narrower_violations);
    printf("%s: the same at bf16: %.3g\n", name, wide.widest);

    /* the lens: float32 lens cells inside the certified intervals */
    loupe_lens_params lens_params = loupe_lens_default_params();
    lens_params.subblocks = true;
    loupe_lens_result *lens = NULL;
    certified_lens *certified = NULL;
    CHECK(loupe_lens_run(model, ids, T, &lens_params, &lens, &error) == LOUPE_OK);
    CHECK(certified_lens_run(model, ids, T, true, 0.0, NULL, &certified, &error) == LOUPE_OK);
    int certain = 0, outside = 0, input_row_certain = 0;
    for (int row = 0; lens != NULL && certified != NULL && row < R; row++)
        for (int t = 0; t < T; t++) {
            const loupe_lens_cell *cell = loupe_lens_cell_at(lens, row, t);
            const certified_cell *ball = certified_lens_cell(certified, row, t);
            outside += !near_inside(cell->input.logit, ball->input_logit);
            outside += !near_inside(cell->input.prob, ball->input_prob);
            outside += !(cell->input.rank >= ball->input_rank[0] && cell->input.rank <= ball->input_rank[1]);
            CHECK(ball->has_target == (t + 1 < T));
            if (ball->has_target) {
                outside += !near_inside(cell->target.logit, ball->target_logit);
                outside += !near_inside(cell->target.prob, ball->target_prob);
                outside += !(cell->target.rank >= ball->target_rank[0] && cell->target.rank <= ball->target_rank[1]);
            }
            if (ball->top1_certain) {
                certain++;
                input_row_certain += row == 0;
                CHECK_MSG(cell->top_ids[0] == ball->top1, "%s row %d position %d: top-1 %d, certified %d", name, row,
                          t, cell->top_ids[0], ball->top1);
            }
        }
    CHECK_MSG(outside == 0, "%s: %d float32 lens values outside their intervals", name, outside);
    printf("%s: %d of %d cells top1_certain\n", name, certain, R * T);
    /* the input row is one norm and one product from the embedding: decided */
    CHECK_MSG(input_row_certain == T, "%s: %d of %d input-row cells certain", name, input_row_certain, T);
    for (int row = 0; certified != NULL && row < R; row++)
        CHECK(certified->rows[row].radius_median > 0.0f &&
              certified->rows[row].radius_median <= certified->rows[row].radius_max);

    certified_lens_free(certified);
    loupe_lens_free(lens);
    free(exact_rad);
    free(wide_rad);
    free(reference.taps);
    loupe_model_close(model);
}

int main(void) {
    test_model("gpt2-tiny-gelu");
    test_model("gpt2-tiny-relu");
    test_model("gpt2-tiny-bf16");
    test_model("llama-tiny");
    return test_finish("test_certified_forward");
}
