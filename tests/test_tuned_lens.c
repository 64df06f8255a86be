/*
 * test_tuned_lens.c - the tuned lens against PyTorch.
 *
 * tests/data/tuned_lens_fixtures.py writes four lens folders for the tiny
 * GPT-2 model (params.safetensors in float32, params.pt from torch.save in
 * float32, float16 and bfloat16) and, beside each, the logits PyTorch gets
 * from the model's hidden states (transformers') through the same
 * translators, unembed(ln_f(h + h W^T + b)), in float64. Every folder must
 * load, give those logits to 1e-4 (relative to 1 + |logit|), and give
 * loupe_lens_run's cells the statistics of those logits; an all-zero lens
 * must be the logit lens; a lens cannot be used with sub-blocks or with a
 * model of another shape.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "lens_stats_reference.h"
#include "loupe.h"
#include "test_reference.h"
#include "test_support.h"
#include "tuned/tuned_lens.h"

enum { MAX_TOKENS = 64, MAX_ROWS = 8 };

typedef struct fixture {
    loupe_model *model;
    int32_t ids[MAX_TOKENS];
    int T, L, C, V;
    float *final_logits; /* (T, V) transformers' last row, the model's output */
    float *taps;         /* (L, T, C) loupe's raw taps of rows 0 .. L-1 */
    int n_taps;
} fixture;

static loupe_status keep_tap(void *user, loupe_tap_kind kind, int layer, const float *residual, int T, int C) {
    (void)kind;
    (void)layer;
    fixture *f = user;
    if (f->n_taps < f->L) memcpy(f->taps + (size_t)f->n_taps * T * C, residual, (size_t)T * C * sizeof(float));
    f->n_taps++;
    return LOUPE_OK;
}

static int fixture_open(fixture *f) {
    memset(f, 0, sizeof *f);
    loupe_error error;
    if (loupe_model_open(test_data_path("gpt2-tiny-gelu"), &f->model, &error) != LOUPE_OK) return -1;
    safetensors_file reference;
    if (safetensors_open(test_data_path("gpt2-tiny-gelu/reference.safetensors"), &reference, &error) != LOUPE_OK)
        return -1;
    loupe_model_info info;
    loupe_model_get_info(f->model, &info);
    f->L = info.n_layer, f->C = info.n_embd, f->V = info.n_vocab;
    f->T = test_input_ids(&reference, f->ids, MAX_TOKENS);
    int ok = f->T >= 0 && f->L < MAX_ROWS;
    float *all = ok ? test_tensor_f32(&reference, "lens_logits", (int64_t)(f->L + 1) * f->T * f->V) : NULL;
    f->final_logits = malloc((size_t)f->T * f->V * sizeof(float) + 1);
    ok = all != NULL && f->final_logits != NULL;
    if (ok) memcpy(f->final_logits, all + (size_t)f->L * f->T * f->V, (size_t)f->T * f->V * sizeof(float));
    free(all);
    safetensors_close(&reference);
    if (!ok) return -1;
    f->taps = malloc((size_t)f->L * f->T * f->C * sizeof(float));
    loupe_forward_params forward = loupe_forward_default_params();
    forward.tap = keep_tap;
    forward.tap_user = f;
    if (f->taps == NULL || loupe_model_forward(f->model, f->ids, f->T, &forward, NULL, &error) != LOUPE_OK) return -1;
    return f->n_taps == f->L + 1 ? 0 : -1;
}

static void fixture_close(fixture *f) {
    free(f->final_logits);
    free(f->taps);
    loupe_model_close(f->model);
}

static int close_enough(double ours, double expected, double tolerance) {
    return fabs(ours - expected) <= tolerance * (1.0 + fabs(expected));
}

/* PyTorch's tuned logits (L, T, V) of a lens folder. */
static float *read_reference(const char *folder, const fixture *f) {
    char path[600];
    snprintf(path, sizeof path, "%s/reference.safetensors", test_data_path(folder));
    safetensors_file file;
    loupe_error error;
    if (safetensors_open(path, &file, &error) != LOUPE_OK) return NULL;
    float *out = test_tensor_f32(&file, "logits", (int64_t)f->L * f->T * f->V);
    safetensors_close(&file);
    return out;
}

/* Each row's logits through the translators against PyTorch's. */
static void check_logits(const fixture *f, const loupe_tuned_lens *lens, const float *reference, const char *folder) {
    const int T = f->T, C = f->C, V = f->V;
    float *translated = malloc((size_t)T * C * sizeof(float)), *logits = malloc((size_t)T * V * sizeof(float));
    loupe_error error;
    for (int layer = 0; layer < f->L; layer++) {
        CHECK(loupe_tuned_lens_translate(lens, layer, f->taps + (size_t)layer * T * C, T, translated, &error) ==
              LOUPE_OK);
        CHECK(loupe_model_logits(f->model, translated, T, logits, &error) == LOUPE_OK);
        double worst = 0;
        for (size_t k = 0; k < (size_t)T * V; k++) {
            double expected = reference[(size_t)layer * T * V + k];
            double excess = fabs(logits[k] - expected) / (1.0 + fabs(expected));
            if (excess > worst) worst = excess;
        }
        CHECK_MSG(worst <= 1e-4, "%s: row %d differs from PyTorch by %g (relative to 1 + |logit|)", folder, layer,
                  worst);
    }
    free(translated);
    free(logits);
}

/* loupe_lens_run with the lens: each cell against the statistics of
 * PyTorch's tuned logits (rows 0 .. L-1) and transformers' output row. */
static void check_cells(const fixture *f, const loupe_tuned_lens *lens, const float *reference, const char *folder) {
    const int T = f->T, L = f->L, V = f->V;
    loupe_lens_params params = loupe_lens_default_params();
    params.tuned = lens;
    loupe_lens_result *result = NULL;
    loupe_error error;
    CHECK_MSG(loupe_lens_run(f->model, f->ids, T, &params, &result, &error) == LOUPE_OK, "%s", error.message);
    if (result == NULL) return;
    float *final_log_probs = malloc((size_t)V * sizeof(float)), *final_probs = malloc((size_t)V * sizeof(float));
    float *first_log_probs = malloc((size_t)V * sizeof(float)), *first_probs = malloc((size_t)V * sizeof(float));
    for (int t = 0; t < T; t++) {
        const float *final_logits = f->final_logits + (size_t)t * V;
        lens_reference final = lens_reference_compute(final_logits, V, final_log_probs, final_probs);
        lens_reference first = lens_reference_compute(reference + (size_t)t * V, V, first_log_probs, first_probs);
        int32_t final_top = 0;
        for (int v = 1; v < V; v++)
            if (final_logits[v] > final_logits[final_top]) final_top = v;
        for (int row = 0; row < L; row++) {
            lens_row_request request = {.logits = reference + ((size_t)row * T + t) * V, .final = final,
                                        .first = first, .target_id = t + 1 < T ? f->ids[t + 1] : -1,
                                        .input_id = f->ids[t], .final_top_id = final_top, .topk = 5};
            lens_row_stats expected;
            lens_row_compute_reference(&request, V, &expected);
            const loupe_lens_cell *cell = loupe_lens_cell_at(result, row, t);
            for (int k = 0; k < cell->n_top; k++) {
                CHECK_MSG(cell->top_ids[k] == expected.top_ids[k], "%s: top %d at row %d position %d", folder, k, row,
                          t);
                CHECK(close_enough(cell->top_probs[k], expected.top_probs[k], 1e-4));
            }
            if (t + 1 < T) {
                CHECK_MSG(cell->target.rank == expected.target.rank, "%s: target rank at row %d position %d: %d vs %d",
                          folder, row, t, cell->target.rank, expected.target.rank);
                CHECK(close_enough(cell->target.prob, expected.target.prob, 1e-4));
            }
            CHECK(cell->input.rank == expected.input.rank && cell->final_top.rank == expected.final_top.rank);
            CHECK(close_enough(cell->entropy, expected.entropy, 1e-4));
            CHECK_MSG(fabs(cell->kl_final - expected.kl_final) < 2e-4, "%s: kl_final row %d position %d: %g vs %g",
                      folder, row, t, cell->kl_final, expected.kl_final);
            CHECK(fabs(cell->kl_first - expected.kl_first) < 2e-4);
        }
        /* the output row has no translator: the model's own distribution */
        CHECK(loupe_lens_cell_at(result, L, t)->kl_final < 1e-6f);
    }
    free(final_log_probs), free(final_probs), free(first_log_probs), free(first_probs);
    loupe_lens_free(result);
}

static void check_folder(const fixture *f, const char *folder, const char *params_file) {
    loupe_tuned_lens *lens = NULL;
    loupe_error error;
    CHECK_MSG(loupe_tuned_lens_open(test_data_path(folder), f->model, &lens, &error) == LOUPE_OK, "%s: %s", folder,
              error.message);
    float *reference = read_reference(folder, f);
    CHECK_MSG(reference != NULL, "%s: no reference logits", folder);
    if (lens != NULL && reference != NULL) {
        loupe_tuned_lens_info info;
        loupe_tuned_lens_get_info(lens, &info);
        CHECK(info.n_layer == f->L && info.n_embd == f->C && info.bias);
        CHECK(strcmp(info.params_file, params_file) == 0 && strcmp(info.base_model, "gpt2-tiny-gelu") == 0);
        check_logits(f, lens, reference, folder);
        check_cells(f, lens, reference, folder);
    }
    free(reference);
    loupe_tuned_lens_close(lens);
}

/* An untrained (all-zero) tuned lens is the logit lens, cell for cell. */
static void check_zero_lens(const fixture *f) {
    loupe_tuned_lens *zero = tuned_lens_create("zero", "", f->L, f->C);
    if (zero == NULL) {
        CHECK(zero != NULL);
        return;
    }
    loupe_lens_params logit = loupe_lens_default_params(), tuned = logit;
    tuned.tuned = zero;
    loupe_lens_result *a = NULL, *b = NULL;
    loupe_error error;
    CHECK(loupe_lens_run(f->model, f->ids, f->T, &logit, &a, &error) == LOUPE_OK);
    CHECK(loupe_lens_run(f->model, f->ids, f->T, &tuned, &b, &error) == LOUPE_OK);
    for (int row = 0; a && b && row <= f->L; row++)
        for (int t = 0; t < f->T; t++) {
            const loupe_lens_cell *x = loupe_lens_cell_at(a, row, t), *y = loupe_lens_cell_at(b, row, t);
            CHECK(x->top_ids[0] == y->top_ids[0] && x->target.rank == y->target.rank);
            CHECK(fabsf(x->kl_final - y->kl_final) < 1e-6f && fabsf(x->entropy - y->entropy) < 1e-6f);
        }
    loupe_lens_free(a);
    loupe_lens_free(b);

    /* sub-blocks have no translators; a lens of another shape is refused */
    loupe_lens_params with_subblocks = tuned;
    with_subblocks.subblocks = true;
    CHECK(loupe_lens_run(f->model, f->ids, f->T, &with_subblocks, &a, &error) == LOUPE_ERROR_ARGUMENT && a == NULL);
    CHECK(strstr(error.message, "sub-blocks") != NULL);
    loupe_tuned_lens *narrow = tuned_lens_create("narrow", "", f->L, f->C / 2);
    loupe_lens_params mismatched = tuned;
    mismatched.tuned = narrow;
    CHECK(narrow != NULL && loupe_lens_run(f->model, f->ids, f->T, &mismatched, &a, &error) == LOUPE_ERROR_ARGUMENT);
    CHECK(loupe_tuned_lens_translate(zero, f->L, f->taps, 1, f->taps, &error) == LOUPE_ERROR_ARGUMENT);
    loupe_tuned_lens_close(narrow);
    loupe_tuned_lens_close(zero);
}

int main(void) {
    fixture f;
    REQUIRE(fixture_open(&f) == 0);
    check_folder(&f, "tuned-tiny-safetensors", "params.safetensors");
    check_folder(&f, "tuned-tiny-f32", "params.pt");
    check_folder(&f, "tuned-tiny-f16", "params.pt");
    check_folder(&f, "tuned-tiny-bf16", "params.pt");
    check_zero_lens(&f);
    fixture_close(&f);
    loupe_tuned_lens_close(NULL);
    return test_finish("test_tuned_lens");
}
