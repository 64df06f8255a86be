/*
 * test_lens_batch.c - the lens of many texts at once and of a text cut into
 * windows, each against loupe_lens_run on the texts (or windows) alone.
 *
 * loupe_lens_run_batch must give every text the cells that loupe_lens_run
 * gives it; loupe_lens_run_windowed must give each position the cells of a
 * lens run on its own on the window that the rule of docs/CORPUS.md picks,
 * the rule written again here from its statement (windows start every
 * stride tokens, the last one moved back to end at the text's end; a
 * position is scored in the first window holding it and its next token;
 * the last position in the last window).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loupe.h"
#include "test_support.h"

/* Whether two floats agree: equal (the AVX-512 projection gives the same
 * bits), or within a float's rounding when the BLAS path sums in another
 * order. */
static bool close_enough(float a, float b) {
    if (a == b) return true;
    return fabsf(a - b) <= 1e-5f * (1.0f + fabsf(b));
}

static bool same_token(const loupe_lens_token *a, const loupe_lens_token *b) {
    return a->id == b->id && a->rank == b->rank && close_enough(a->prob, b->prob) &&
           close_enough(a->logit, b->logit);
}

/* The cells of `got` at positions [got_first, + n) against those of
 * `expected` from expected_first; counts the cells that differ. */
static int compare_cells(const loupe_lens_result *got, int got_first, const loupe_lens_result *expected,
                         int expected_first, int n) {
    int differing = 0;
    for (int r = 0; r < loupe_lens_n_rows(expected); r++)
        for (int i = 0; i < n; i++) {
            const loupe_lens_cell *a = loupe_lens_cell_at(got, r, got_first + i);
            const loupe_lens_cell *b = loupe_lens_cell_at(expected, r, expected_first + i);
            bool same = a != NULL && b != NULL && a->n_top == b->n_top && same_token(&a->target, &b->target) &&
                        same_token(&a->input, &b->input) && same_token(&a->final_top, &b->final_top) &&
                        close_enough(a->entropy, b->entropy) && close_enough(a->kl_final, b->kl_final) &&
                        close_enough(a->kl_final_rev, b->kl_final_rev) && close_enough(a->kl_first, b->kl_first) &&
                        close_enough(a->kl_first_rev, b->kl_first_rev);
            for (int k = 0; same && k < a->n_top; k++)
                same = a->top_ids[k] == b->top_ids[k] && close_enough(a->top_probs[k], b->top_probs[k]);
            differing += !same;
        }
    return differing;
}

static void random_ids(int32_t *ids, int n, int V, uint64_t *state) {
    for (int t = 0; t < n; t++) ids[t] = (int32_t)(test_random_unit(state) * V) % V;
}

/* Texts of 1 .. 40 tokens, more than one block of positions between them,
 * with and without sub-blocks. */
static void test_batch_matches_single_runs(const loupe_model *model, int V) {
    enum { N_TEXTS = 9, MAX_TOKENS = 40 };
    static const int lengths[N_TEXTS] = {1, 7, 40, 13, 2, 31, 24, 25, 11};
    int32_t storage[N_TEXTS][MAX_TOKENS];
    const int32_t *ids[N_TEXTS];
    uint64_t state = 19;
    for (int k = 0; k < N_TEXTS; k++) {
        random_ids(storage[k], lengths[k], V, &state);
        ids[k] = storage[k];
    }
    for (int variant = 0; variant < 2; variant++) {
        loupe_lens_params params = loupe_lens_default_params();
        params.subblocks = variant == 1;
        params.topk = variant == 1 ? 3 : 5;
        params.position_block = variant == 1 ? 8 : 24;
        loupe_lens_result *results[N_TEXTS];
        loupe_error error;
        loupe_status status = loupe_lens_run_batch(model, ids, lengths, N_TEXTS, &params, results, &error);
        CHECK_MSG(status == LOUPE_OK, "%s", error.message);
        if (status != LOUPE_OK) return;
        for (int k = 0; k < N_TEXTS; k++) {
            loupe_lens_result *single = NULL;
            status = loupe_lens_run(model, ids[k], lengths[k], &params, &single, &error);
            CHECK_MSG(status == LOUPE_OK, "%s", error.message);
            if (status != LOUPE_OK) continue;
            CHECK(loupe_lens_n_rows(results[k]) == loupe_lens_n_rows(single));
            CHECK(loupe_lens_n_positions(results[k]) == lengths[k]);
            CHECK(memcmp(loupe_lens_ids(results[k]), ids[k], (size_t)lengths[k] * sizeof(int32_t)) == 0);
            CHECK(strcmp(loupe_lens_row_name(results[k], 1), loupe_lens_row_name(single, 1)) == 0);
            int differing = compare_cells(results[k], 0, single, 0, lengths[k]);
            CHECK_MSG(differing == 0, "variant %d, text %d: %d cells differ from its own run", variant, k, differing);
            /* the last position predicts nothing, inside the pack too */
            CHECK(loupe_lens_cell_at(results[k], 0, lengths[k] - 1)->target.id == -1);
            loupe_lens_free(single);
            loupe_lens_free(results[k]);
        }
    }
    loupe_lens_result *none[1];
    int zero = 0;
    loupe_error error;
    CHECK(loupe_lens_run_batch(model, ids, &zero, 1, NULL, none, &error) == LOUPE_ERROR_ARGUMENT && none[0] == NULL);
}

/* The window of the rule that scores position t of a text of n tokens:
 * its start. */
static int scoring_window_start(int t, int n, int context, int stride) {
    int starts[4096], count = 0;
    for (int s = 0;; s += stride) {
        if (s + context >= n) {
            starts[count++] = n > context ? n - context : 0;
            break;
        }
        starts[count++] = s;
    }
    if (t == n - 1) return starts[count - 1];
    for (int k = 0; k < count; k++) {
        int end = starts[k] + context < n ? starts[k] + context : n;
        if (starts[k] <= t && t + 1 < end) return starts[k];
    }
    return -1;
}

static void test_windowed_matches_windows(const loupe_model *model, int V, int n_ctx) {
    enum { N = 150 };
    int32_t ids[N];
    uint64_t state = 7;
    random_ids(ids, N, V, &state);
    const int cases[][3] = {{N, 40, 20}, {N, 40, 39}, {60, 40, 3}, {97, 64, 32}, {30, 40, 20}, {41, 40, 13}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int n = cases[c][0], context = cases[c][1], stride = cases[c][2];
        if (context > n_ctx) continue;
        loupe_lens_result *windowed = NULL;
        loupe_error error;
        loupe_status status = loupe_lens_run_windowed(model, ids, n, context, stride, NULL, &windowed, &error);
        CHECK_MSG(status == LOUPE_OK, "%s", error.message);
        if (status != LOUPE_OK) continue;
        CHECK(loupe_lens_n_positions(windowed) == n);
        CHECK(memcmp(loupe_lens_ids(windowed), ids, (size_t)n * sizeof(int32_t)) == 0);
        int differing = 0, last_start = -1;
        loupe_lens_result *window = NULL;
        for (int t = 0; t < n; t++) {
            int start = scoring_window_start(t, n, context, stride);
            if (start != last_start) {
                loupe_lens_free(window);
                window = NULL;
                int length = start + context < n ? context : n - start;
                CHECK(loupe_lens_run(model, ids + start, length, NULL, &window, &error) == LOUPE_OK);
                last_start = start;
            }
            if (window != NULL) differing += compare_cells(windowed, t, window, t - start, 1);
        }
        loupe_lens_free(window);
        CHECK_MSG(differing == 0, "case %zu: %d cells differ from the window that scores them", c, differing);
        loupe_lens_free(windowed);
    }
    loupe_lens_result *none = NULL;
    loupe_error error;
    CHECK(loupe_lens_run_windowed(model, ids, N, n_ctx + 1, 10, NULL, &none, &error) == LOUPE_ERROR_ARGUMENT);
    CHECK(loupe_lens_run_windowed(model, ids, N, 40, 40, NULL, &none, &error) == LOUPE_ERROR_ARGUMENT);
    CHECK(none == NULL);
}

int main(void) {
    loupe_model *model = NULL;
    loupe_error error;
    REQUIRE(loupe_model_open(test_data_path("gpt2-tiny-gelu"), &model, &error) == LOUPE_OK);
    loupe_model_info info;
    loupe_model_get_info(model, &info);
    test_batch_matches_single_runs(model, info.n_vocab);
    test_windowed_matches_windows(model, info.n_vocab, info.n_ctx);
    loupe_model_close(model);
    return test_finish("test_lens_batch");
}
