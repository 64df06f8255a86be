/*
 * test_lens_compare.c - loupe_lens_compare on the GELU and ReLU fixtures
 * against transformers: both fixtures hold the lens logits
 * lm_head(ln_f(hidden_states[r])) of the same ids, from which the KLs in
 * both directions, the target's probability and rank, and each top-1 are
 * computed here in double (log-softmax written out), then compared with
 * the library's cells. Also: a model against itself has KL 0 and equal
 * standings; models whose layers differ are refused.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "loupe.h"
#include "test_reference.h"
#include "test_support.h"

typedef struct fixture {
    loupe_model *model;
    safetensors_file reference;
    float *lens_logits; /* (R, T, V) */
    int32_t ids[64];
    int T, R, V;
} fixture;

static int fixture_open(const char *name, fixture *f) {
    memset(f, 0, sizeof *f);
    char path[600];
    loupe_error error;
    snprintf(path, sizeof path, "%s", test_data_path(name));
    if (loupe_model_open(path, &f->model, &error) != LOUPE_OK) return -1;
    strcat(path, "/reference.safetensors");
    if (safetensors_open(path, &f->reference, &error) != LOUPE_OK) return -1;
    loupe_model_info info;
    loupe_model_get_info(f->model, &info);
    f->T = test_input_ids(&f->reference, f->ids, 64), f->R = info.n_layer + 1, f->V = info.n_vocab;
    if (f->T < 0) return -1;
    f->lens_logits = test_tensor_f32(&f->reference, "lens_logits", (int64_t)f->R * f->T * f->V);
    return f->lens_logits != NULL ? 0 : -1;
}

static void fixture_close(fixture *f) {
    free(f->lens_logits);
    safetensors_close(&f->reference);
    loupe_model_close(f->model);
}

/* log-softmax of logits (V) into out (V), in double. */
static void log_softmax(const float *logits, int V, double *out) {
    double max = -INFINITY, sum = 0.0;
    for (int v = 0; v < V; v++) max = fmax(max, logits[v]);
    for (int v = 0; v < V; v++) sum += exp(logits[v] - max);
    for (int v = 0; v < V; v++) out[v] = logits[v] - max - log(sum);
}

static int rank_of(const float *logits, int V, int id) {
    int rank = 1;
    for (int v = 0; v < V; v++) rank += logits[v] > logits[id];
    return rank;
}

static int argmax(const float *logits, int V) {
    int best = 0;
    for (int v = 1; v < V; v++)
        if (logits[v] > logits[best]) best = v;
    return best;
}

static void test_against_transformers(fixture *a, fixture *b) {
    loupe_compare_result *result = NULL;
    loupe_error error;
    loupe_status status = loupe_lens_compare(a->model, b->model, a->ids, a->T, false, &result, &error);
    CHECK_MSG(status == LOUPE_OK, "%s", error.message);
    if (status != LOUPE_OK) return;
    CHECK(loupe_compare_n_rows(result) == a->R && loupe_compare_n_positions(result) == a->T);
    double *la = malloc((size_t)a->V * sizeof *la), *lb = malloc((size_t)a->V * sizeof *lb);
    double worst_kl = 0.0, worst_prob = 0.0, smallest_kl = INFINITY;
    int rank_mismatches = 0, top_mismatches = 0;
    for (int r = 0; r < a->R; r++)
        for (int t = 0; t < a->T; t++) {
            const float *za = a->lens_logits + ((size_t)r * a->T + t) * a->V;
            const float *zb = b->lens_logits + ((size_t)r * a->T + t) * a->V;
            log_softmax(za, a->V, la);
            log_softmax(zb, a->V, lb);
            double kl_ab = 0.0, kl_ba = 0.0;
            for (int v = 0; v < a->V; v++) {
                kl_ab += exp(la[v]) * (la[v] - lb[v]);
                kl_ba += exp(lb[v]) * (lb[v] - la[v]);
            }
            const loupe_compare_cell *cell = loupe_compare_cell_at(result, r, t);
            worst_kl = fmax(worst_kl, fabs(cell->kl_ab - kl_ab) / (1e-3 + kl_ab));
            worst_kl = fmax(worst_kl, fabs(cell->kl_ba - kl_ba) / (1e-3 + kl_ba));
            smallest_kl = fmin(smallest_kl, fmin(kl_ab, kl_ba));
            top_mismatches += cell->top_a.id != argmax(za, a->V) || cell->top_b.id != argmax(zb, a->V);
            if (t + 1 < a->T) {
                int target = a->ids[t + 1];
                CHECK(cell->target_a.id == target && cell->target_b.id == target);
                worst_prob = fmax(worst_prob, fabs(cell->target_a.prob - exp(la[target])));
                worst_prob = fmax(worst_prob, fabs(cell->target_b.prob - exp(lb[target])));
                rank_mismatches += cell->target_a.rank != rank_of(za, a->V, target) ||
                                   cell->target_b.rank != rank_of(zb, a->V, target);
            } else {
                CHECK(cell->target_a.id == -1 && cell->target_b.id == -1);
            }
        }
    CHECK_MSG(worst_kl < 1e-3, "KL off transformers' by a relative %g", worst_kl);
    CHECK_MSG(worst_prob < 1e-5, "target probability off by %g", worst_prob);
    /* lens logits agree to ~1e-5 with transformers': a rank or a top-1 can
     * flip only on a near-tie, which these random models do not have */
    CHECK_MSG(rank_mismatches == 0, "%d target ranks differ", rank_mismatches);
    CHECK_MSG(top_mismatches == 0, "%d top-1s differ", top_mismatches);
    CHECK_MSG(smallest_kl > 1e-6, "the models should differ somewhere in every cell (smallest KL %g)", smallest_kl);
    free(la);
    free(lb);
    loupe_compare_free(result);
}

static void test_against_itself(fixture *a) {
    loupe_compare_result *result = NULL;
    loupe_error error;
    CHECK(loupe_lens_compare(a->model, a->model, a->ids, a->T, true, &result, &error) == LOUPE_OK);
    if (result == NULL) return;
    CHECK(loupe_compare_n_rows(result) == 2 * (a->R - 1) + 1);
    CHECK(strcmp(loupe_compare_row_name(result, 1), "h1.attn") == 0);
    for (int r = 0; r < loupe_compare_n_rows(result); r++)
        for (int t = 0; t < a->T; t++) {
            const loupe_compare_cell *cell = loupe_compare_cell_at(result, r, t);
            CHECK(cell->kl_ab == 0.0f && cell->kl_ba == 0.0f);
            CHECK(cell->top_a.id == cell->top_b.id && cell->target_a.rank == cell->target_b.rank);
        }
    CHECK(loupe_compare_cell_at(result, 0, a->T) == NULL);
    loupe_compare_free(result);
}

int main(void) {
    fixture gelu, relu;
    REQUIRE(fixture_open("gpt2-tiny-gelu", &gelu) == 0);
    REQUIRE(fixture_open("gpt2-tiny-relu", &relu) == 0);
    REQUIRE(gelu.T == relu.T && memcmp(gelu.ids, relu.ids, (size_t)gelu.T * sizeof(int32_t)) == 0);
    test_against_transformers(&gelu, &relu);
    test_against_itself(&gelu);
    loupe_model *llama = NULL;
    loupe_error error;
    if (loupe_model_open(test_data_path("llama-tiny"), &llama, &error) == LOUPE_OK) {
        loupe_compare_result *result = NULL;
        loupe_status status = loupe_lens_compare(gelu.model, llama, gelu.ids, 4, false, &result, &error);
        CHECK_MSG(status == LOUPE_ERROR_ARGUMENT && result == NULL, "models of different shapes: %s", error.message);
        loupe_model_close(llama);
    }
    fixture_close(&gelu);
    fixture_close(&relu);
    return test_finish("test_lens_compare");
}
