/*
 * check_reference.c - compares loupe on a model folder with the
 * reference.safetensors an independent reference wrote there
 * (tests/reference/hf_families_reference.py, or transformers itself): every
 * hidden state, every attention sub-block tap (attn.N, when present), every
 * lens row (final norm + unembedding of each tap), the last row against the
 * model's logits, and the lens's cells against the reference's rows; when
 * the reference has them (attn_out.N, mlp_out.N, attribution), the
 * contribution rows' sub-block outputs and their direct logit attributions.
 * Prints the largest differences; exits 1 when any exceeds the tolerance.
 *
 * usage: check_reference MODEL_DIR [TOLERANCE (default 1e-4)]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "loupe.h"
#include "test_support.h"

typedef struct taps {
    float *rows;   /* (2L + 1, T, C) in forward order: input, [hN.attn, hN] */
    int n_seen, capacity;
} taps;

static loupe_status keep_tap(void *user, loupe_tap_kind kind, int layer, const float *residual, int T, int C) {
    (void)kind, (void)layer;
    taps *t = user;
    if (t->n_seen >= t->capacity) return LOUPE_ERROR_ARGUMENT;
    memcpy(t->rows + (size_t)t->n_seen++ * T * C, residual, (size_t)T * C * sizeof(float));
    return LOUPE_OK;
}

/* The reference tensor `name` of `count` floats (caller frees), NULL when absent. */
static float *reference_tensor(const safetensors_file *file, const char *name, size_t count) {
    const tensor_view *view = safetensors_find(file, name);
    if (view == NULL || (size_t)view->n_elements != count) return NULL;
    float *out = malloc(count * sizeof *out);
    if (out != NULL && tensor_to_f32(view, out, NULL) != LOUPE_OK) {
        free(out);
        return NULL;
    }
    return out;
}

/* The lens with contributions against the reference's attn_out.N, mlp_out.N
 * (the sub-block outputs, rows 3N-2 and 3N-1 of the lens's taps) and
 * attribution (1 + 2L, T, 2); nothing when the reference lacks them. The
 * final top-1 attribution is compared where both pick the same top-1. */
static void check_contributions(const loupe_model *model, const safetensors_file *reference, const int32_t *ids, int T,
                                const float *expected_lens, double *worst_delta, double *worst_attribution) {
    loupe_model_info info;
    loupe_model_get_info(model, &info);
    const int L = info.n_layer, C = info.n_embd, V = info.n_vocab;
    float *attribution = reference_tensor(reference, "attribution", (size_t)(1 + 2 * L) * T * 2);
    if (attribution == NULL) return;
    loupe_lens_params params = loupe_lens_default_params();
    params.contributions = true, params.keep_taps = true;
    loupe_lens_result *lens = NULL;
    loupe_error error;
    CHECK_MSG(loupe_lens_run(model, ids, T, &params, &lens, &error) == LOUPE_OK, "%s", error.message);
    if (lens == NULL) {
        free(attribution);
        return;
    }
    const float *kept = loupe_lens_taps(lens);
    for (int layer = 1; layer <= L; layer++)
        for (int k = 0; k < 2; k++) {
            char name[32];
            snprintf(name, sizeof name, k == 0 ? "attn_out.%d" : "mlp_out.%d", layer);
            float *expected = reference_tensor(reference, name, (size_t)T * C);
            CHECK_MSG(expected != NULL, "%s missing", name);
            if (expected)
                *worst_delta = fmax(*worst_delta, test_max_abs_diff(kept + (size_t)(3 * layer - 2 + k) * T * C, expected,
                                                                    (size_t)T * C));
            free(expected);
        }
    for (int component = 0; component <= 2 * L; component++) {
        int row = component == 0 ? 0 : 3 * ((component + 1) / 2) - 2 + (component + 1) % 2;
        for (int t = 0; t < T; t++) {
            const loupe_lens_cell *cell = loupe_lens_cell_at(lens, row, t);
            const float *final_logits = expected_lens + ((size_t)L * T + t) * V;
            int32_t top = 0;
            for (int v = 1; v < V; v++)
                if (final_logits[v] > final_logits[top]) top = v;
            const float *expected = attribution + ((size_t)component * T + t) * 2;
            CHECK_MSG(cell->attribution != NULL, "row %d has no attribution", row);
            if (cell->attribution == NULL) continue;
            if (t + 1 < T)
                *worst_attribution = fmax(*worst_attribution,
                                          fabs(cell->attribution->target - expected[0]) / (1.0 + fabs(expected[0])));
            if (cell->final_top.id == top)
                *worst_attribution = fmax(*worst_attribution, fabs(cell->attribution->final_top - expected[1]) /
                                                                  (1.0 + fabs(expected[1])));
        }
    }
    loupe_lens_free(lens);
    free(attribution);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: check_reference MODEL_DIR [TOLERANCE]\n");
        return 2;
    }
    double tolerance = argc > 2 ? atof(argv[2]) : 1e-4;
    char path[4096];
    snprintf(path, sizeof path, "%s/reference.safetensors", argv[1]);
    loupe_error error;
    loupe_model *model = NULL;
    safetensors_file reference;
    memset(&reference, 0, sizeof reference);
    REQUIRE(loupe_model_open(argv[1], &model, &error) == LOUPE_OK || (fprintf(stderr, "%s\n", error.message), 0));
    REQUIRE(safetensors_open(path, &reference, &error) == LOUPE_OK || (fprintf(stderr, "%s\n", error.message), 0));
    loupe_model_info info;
    loupe_model_get_info(model, &info);
    int L = info.n_layer, C = info.n_embd, V = info.n_vocab;
    const tensor_view *ids_view = safetensors_find(&reference, "input_ids");
    REQUIRE(ids_view != NULL && ids_view->dtype == TENSOR_DTYPE_I32);
    int T = (int)ids_view->n_elements;
    int32_t *ids = malloc((size_t)T * sizeof *ids);
    memcpy(ids, ids_view->data, (size_t)T * sizeof *ids);

    taps t = {malloc((size_t)(2 * L + 1) * T * C * sizeof(float)), 0, 2 * L + 1};
    float *final_residual = malloc((size_t)T * C * sizeof(float));
    loupe_forward_params params = loupe_forward_default_params();
    params.tap = keep_tap, params.tap_user = &t, params.tap_after_attention = true;
    REQUIRE(loupe_model_forward(model, ids, T, &params, final_residual, &error) == LOUPE_OK);
    CHECK(t.n_seen == 2 * L + 1);

    float *expected_lens = reference_tensor(&reference, "lens_logits", (size_t)(L + 1) * T * V);
    REQUIRE(expected_lens != NULL);
    float *normed = malloc((size_t)T * C * sizeof(float)), *logits = malloc((size_t)T * V * sizeof(float));
    double worst_hidden = 0, worst_attn = 0, worst_lens = 0, worst_logits = 0;
    for (int layer = 0; layer <= L; layer++) {
        const float *ours = t.rows + (size_t)(layer == 0 ? 0 : 2 * layer) * T * C;
        char name[32];
        snprintf(name, sizeof name, "hidden.%d", layer);
        float *expected = reference_tensor(&reference, name, (size_t)T * C);
        CHECK_MSG(expected != NULL, "%s missing", name);
        if (layer == L) { /* transformers returns the last hidden state after the final norm */
            loupe_model_final_norm(model, ours, T, normed);
            ours = normed;
        }
        if (expected) worst_hidden = fmax(worst_hidden, test_max_abs_diff(ours, expected, (size_t)T * C));
        free(expected);
        if (layer > 0) {
            snprintf(name, sizeof name, "attn.%d", layer);
            expected = reference_tensor(&reference, name, (size_t)T * C);
            if (expected)
                worst_attn = fmax(worst_attn, test_max_abs_diff(t.rows + (size_t)(2 * layer - 1) * T * C, expected,
                                                                 (size_t)T * C));
            free(expected);
        }
        CHECK(loupe_model_logits(model, t.rows + (size_t)(layer == 0 ? 0 : 2 * layer) * T * C, T, logits, &error) ==
              LOUPE_OK);
        worst_lens = fmax(worst_lens, test_max_abs_diff(logits, expected_lens + (size_t)layer * T * V, (size_t)T * V));
    }
    CHECK(loupe_model_logits(model, final_residual, T, logits, &error) == LOUPE_OK);
    worst_logits = test_max_abs_diff(logits, expected_lens + (size_t)L * T * V, (size_t)T * V);

    /* The lens itself: each cell's top-1 probability equals the reference
     * row's largest softmax probability. */
    loupe_lens_result *lens = NULL;
    loupe_lens_params lens_params = loupe_lens_default_params();
    REQUIRE(loupe_lens_run(model, ids, T, &lens_params, &lens, &error) == LOUPE_OK);
    CHECK(loupe_lens_n_rows(lens) == loupe_lens_row_count(L, false));
    double worst_prob = 0;
    for (int row = 0; row <= L; row++)
        for (int p = 0; p < T; p++) {
            const float *x = expected_lens + ((size_t)row * T + p) * V;
            double max = x[0], sum = 0;
            for (int v = 1; v < V; v++) max = fmax(max, x[v]);
            for (int v = 0; v < V; v++) sum += exp(x[v] - max);
            worst_prob = fmax(worst_prob, fabs(loupe_lens_cell_at(lens, row, p)->top_probs[0] - 1.0 / sum));
        }
    double worst_delta = 0, worst_attribution = 0;
    check_contributions(model, &reference, ids, T, expected_lens, &worst_delta, &worst_attribution);
    printf("%s (%s): max |difference| hidden %.3g, attention taps %.3g, lens rows %.3g, logits %.3g, lens top-1 "
           "probability %.3g, sub-block outputs %.3g, attributions %.3g (relative)\n",
           argv[1], info.model_type, worst_hidden, worst_attn, worst_lens, worst_logits, worst_prob, worst_delta,
           worst_attribution);
    CHECK_MSG(worst_hidden < tolerance && worst_attn < tolerance && worst_lens < tolerance &&
                  worst_logits < tolerance && worst_prob < tolerance && worst_delta < tolerance &&
                  worst_attribution < tolerance,
              "above the tolerance %g", tolerance);
    loupe_lens_free(lens);
    free(normed), free(logits), free(expected_lens), free(final_residual), free(t.rows), free(ids);
    safetensors_close(&reference);
    loupe_model_close(model);
    return test_finish("check_reference");
}
