/*
 * test_lens.c - the logit lens end to end on the Hugging Face fixtures.
 *
 * The lens logits of every row must match transformers' lm_head(ln_f(hidden))
 * to 1e-4; every cell's statistics must match those computed (by the
 * reference kernel, itself checked against brute force in test_lens_stats)
 * from transformers' lens logits; the last row must be the model's own
 * output; blocking and sub-block rows must not change any cell (beyond
 * float32 rounding where the projection runs on BLAS: projection_tolerance).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "kernels/tile_gemm.h"
#include "lens_stats_reference.h"
#include "model/model.h"
#include "loupe.h"
#include "test_reference.h"
#include "test_support.h"

typedef struct fixture {
    loupe_model *model;
    safetensors_file reference;
    int32_t ids[64];
    int T, L, C, V;
    float *lens_logits; /* (L+1, T, V) from transformers */
} fixture;

static int fixture_open(const char *name, fixture *f) {
    memset(f, 0, sizeof *f);
    char path[600];
    loupe_error error;
    snprintf(path, sizeof path, "%s", test_data_path(name));
    if (loupe_model_open(path, &f->model, &error) != LOUPE_OK) {
        CHECK_MSG(0, "%s", error.message);
        return -1;
    }
    strcat(path, "/reference.safetensors");
    if (safetensors_open(path, &f->reference, &error) != LOUPE_OK) {
        CHECK_MSG(0, "%s", error.message);
        return -1;
    }
    loupe_model_info info;
    loupe_model_get_info(f->model, &info);
    f->L = info.n_layer, f->C = info.n_embd, f->V = info.n_vocab;
    f->T = test_input_ids(&f->reference, f->ids, 64);
    if (f->T < 0) return -1;
    f->lens_logits = test_tensor_f32(&f->reference, "lens_logits", (int64_t)(f->L + 1) * f->T * f->V);
    return f->lens_logits != NULL ? 0 : -1;
}

static void fixture_close(fixture *f) {
    free(f->lens_logits);
    safetensors_close(&f->reference);
    loupe_model_close(f->model);
}

/* Each row's lens logits, computed from our taps, against transformers'. */
static loupe_status compare_tap(void *user, loupe_tap_kind kind, int layer, const float *residual, int T,
                                int C) {
    (void)kind;
    (void)C;
    fixture *f = user;
    float *logits = malloc((size_t)T * f->V * sizeof *logits);
    CHECK(loupe_model_logits(f->model, residual, T, logits, NULL) == LOUPE_OK);
    double diff = test_max_abs_diff(logits, f->lens_logits + (size_t)layer * T * f->V, (size_t)T * f->V);
    CHECK_MSG(diff < 1e-4, "lens row %d differs from transformers by %g", layer, diff);
    free(logits);
    return LOUPE_OK;
}

static int close_enough(double ours, double expected, double tolerance) {
    return fabs(ours - expected) <= tolerance * (1.0 + fabs(expected));
}

static void check_token(const char *what, int row, int t, loupe_lens_token ours, loupe_lens_token expected) {
    CHECK_MSG(ours.id == expected.id, "%s id at row %d position %d: %d vs %d", what, row, t, ours.id, expected.id);
    CHECK_MSG(ours.rank == expected.rank, "%s rank at row %d position %d: %d vs %d", what, row, t, ours.rank,
              expected.rank);
    CHECK_MSG(close_enough(ours.prob, expected.prob, 1e-4), "%s prob at row %d position %d: %g vs %g", what, row,
              t, ours.prob, expected.prob);
    CHECK_MSG(close_enough(ours.logit, expected.logit, 1e-4), "%s logit at row %d position %d", what, row, t);
    CHECK_MSG(close_enough(ours.log_prob, expected.log_prob, 1e-4), "%s log_prob at row %d position %d: %g vs %g",
              what, row, t, ours.log_prob, expected.log_prob);
}

/* Every cell against the statistics of transformers' lens logits. */
static void check_cells(const fixture *f, const loupe_lens_result *result) {
    int T = f->T, L = f->L, V = f->V;
    float *final_log_probs = malloc((size_t)V * sizeof(float)), *final_probs = malloc((size_t)V * sizeof(float));
    float *first_log_probs = malloc((size_t)V * sizeof(float)), *first_probs = malloc((size_t)V * sizeof(float));
    for (int t = 0; t < T; t++) {
        const float *final_logits = f->lens_logits + ((size_t)L * T + t) * V;
        lens_reference final = lens_reference_compute(final_logits, V, final_log_probs, final_probs);
        lens_reference first =
            lens_reference_compute(f->lens_logits + (size_t)t * V, V, first_log_probs, first_probs);
        int32_t final_top = 0;
        for (int v = 1; v < V; v++)
            if (final_logits[v] > final_logits[final_top]) final_top = v;
        for (int row = 0; row <= L; row++) {
            lens_row_request request = {
                .logits = f->lens_logits + ((size_t)row * T + t) * V,
                .final = final,
                .first = first,
                .target_id = t + 1 < T ? f->ids[t + 1] : -1,
                .input_id = f->ids[t],
                .final_top_id = final_top,
                .topk = 5,
            };
            lens_row_stats expected;
            lens_row_compute_reference(&request, V, &expected);
            const loupe_lens_cell *cell = loupe_lens_cell_at(result, row, t);
            CHECK(cell != NULL);
            if (cell == NULL) continue;
            CHECK(cell->n_top == 5);
            for (int k = 0; k < cell->n_top; k++) {
                CHECK_MSG(cell->top_ids[k] == expected.top_ids[k], "top %d at row %d position %d", k, row, t);
                CHECK(close_enough(cell->top_probs[k], expected.top_probs[k], 1e-4));
            }
            if (t + 1 < T) check_token("target", row, t, cell->target, expected.target);
            else CHECK(cell->target.id == -1);
            check_token("input", row, t, cell->input, expected.input);
            check_token("final_top", row, t, cell->final_top, expected.final_top);
            CHECK(close_enough(cell->entropy, expected.entropy, 1e-4));
            CHECK_MSG(fabs(cell->kl_final - expected.kl_final) < 2e-4, "kl_final row %d position %d: %g vs %g",
                      row, t, cell->kl_final, expected.kl_final);
            CHECK(fabs(cell->kl_final_rev - expected.kl_final_rev) < 2e-4);
            CHECK(fabs(cell->kl_first - expected.kl_first) < 2e-4);
            CHECK(fabs(cell->kl_first_rev - expected.kl_first_rev) < 2e-4);
        }
        /* The last row is the model's output: it compares to itself, and
         * the input row to itself, exactly. */
        const loupe_lens_cell *last = loupe_lens_cell_at(result, L, t), *input = loupe_lens_cell_at(result, 0, t);
        CHECK(last->kl_final < 1e-6f && last->kl_final_rev < 1e-6f && last->final_top.rank == 1);
        CHECK(input->kl_first < 1e-6f && input->kl_first_rev < 1e-6f);
    }
    free(final_log_probs), free(final_probs), free(first_log_probs), free(first_probs);
}

/* The tolerance two lens runs on the same taps are held to when their
 * projections are products of different shapes (more rows per block, other
 * blocks): 0 where the projection is tile_gemm (the avx512 level), whose
 * elements are the same bits whatever call computes them (tile_gemm.h), so
 * the cells must be too. Below it the projection runs on cblas_sgemm, whose
 * kernels promise no such thing: OpenBLAS's Haswell/Zen sgemm sums an
 * element in another order at another row count or place in the block
 * (OpenBLAS 0.3.21 on an AMD EPYC, products of M rows by 500 weight rows,
 * K = 64: every element matches the k-ordered FMA chain for M of 1 .. 3
 * and 9 .. 12; most of the first rows do not for M of 4 .. 8 or 15 .. 33).
 * Two orders of a length-C float32 dot product differ by at most
 * 2 C u sum |x_c w_c| (u = 2^-24): 3.8e-6 sum |x_c w_c| at these fixtures'
 * C = 32, and a softmax, an entropy or a KL divergence of such logits moves
 * by about as much. The largest difference measured there is 7.2e-7 (the
 * contributions run against the plain one, all fixtures, portable and
 * avx2); 1e-5 leaves a margin. Ids and ranks must still agree. */
static double projection_tolerance(void) { return tile_gemm_available() ? 0.0 : 1e-5; }

/* Two cells agree: same ids and ranks; values within `tolerance` (0 asks
 * for bit-identical values). */
static int cells_agree(const loupe_lens_cell *a, const loupe_lens_cell *b, double tolerance) {
    if (a->n_top != b->n_top) return 0;
    for (int k = 0; k < a->n_top; k++)
        if (a->top_ids[k] != b->top_ids[k] || fabs(a->top_probs[k] - b->top_probs[k]) > tolerance) return 0;
    const loupe_lens_token *ta[3] = {&a->target, &a->input, &a->final_top};
    const loupe_lens_token *tb[3] = {&b->target, &b->input, &b->final_top};
    for (int i = 0; i < 3; i++)
        if (ta[i]->id != tb[i]->id || ta[i]->rank != tb[i]->rank || fabs(ta[i]->prob - tb[i]->prob) > tolerance ||
            fabs(ta[i]->logit - tb[i]->logit) > tolerance)
            return 0;
    return fabs(a->entropy - b->entropy) <= tolerance && fabs(a->kl_final - b->kl_final) <= tolerance &&
           fabs(a->kl_final_rev - b->kl_final_rev) <= tolerance && fabs(a->kl_first - b->kl_first) <= tolerance &&
           fabs(a->kl_first_rev - b->kl_first_rev) <= tolerance;
}

/* Tracked tokens (loupe_lens_params.track_ids) in every cell against
 * transformers' lens logits, worked out here in double: the logit, the
 * softmax probability, and the rank as 1 + the count of strictly larger
 * logits, allowed to move only across logits within 2e-4 of the token's. */
static void check_tracked(const fixture *f) {
    const int T = f->T, L = f->L, V = f->V;
    int32_t track[5] = {0, V - 1, f->ids[0], 0, 7};
    const float *final_first = f->lens_logits + (size_t)L * T * V; /* the final row at position 0 */
    for (int v = 1; v < V; v++)
        if (final_first[v] < final_first[track[3]]) track[3] = v; /* its least likely token */
    loupe_lens_params params = loupe_lens_default_params();
    params.track_ids = track;
    params.n_track = 5;
    loupe_lens_result *result = NULL;
    loupe_error error;
    CHECK_MSG(loupe_lens_run(f->model, f->ids, T, &params, &result, &error) == LOUPE_OK, "%s", error.message);
    if (result == NULL) return;
    for (int row = 0; row <= L; row++)
        for (int t = 0; t < T; t++) {
            const float *logits = f->lens_logits + ((size_t)row * T + t) * V;
            double max_logit = logits[0], sum = 0.0;
            for (int v = 1; v < V; v++) max_logit = logits[v] > max_logit ? logits[v] : max_logit;
            for (int v = 0; v < V; v++) sum += exp((double)logits[v] - max_logit);
            const loupe_lens_cell *cell = loupe_lens_cell_at(result, row, t);
            CHECK(cell->n_tracked == 5 && cell->tracked != NULL);
            if (cell->n_tracked != 5) continue;
            for (int k = 0; k < 5; k++) {
                const loupe_lens_token *got = &cell->tracked[k];
                double logit = logits[track[k]], prob = exp(logit - max_logit) / sum;
                int above_high = 0, above_low = 0;
                for (int v = 0; v < V; v++) {
                    above_high += logits[v] > logit + 2e-4;
                    above_low += v != track[k] && logits[v] > logit - 2e-4;
                }
                CHECK(got->id == track[k]);
                CHECK_MSG(close_enough(got->logit, logit, 1e-4), "tracked %d logit at row %d position %d: %g vs %g",
                          k, row, t, got->logit, logit);
                CHECK_MSG(close_enough(got->prob, prob, 1e-4), "tracked %d prob at row %d position %d: %g vs %g", k,
                          row, t, got->prob, prob);
                CHECK_MSG(got->rank >= above_high + 1 && got->rank <= above_low + 1,
                          "tracked %d rank at row %d position %d: %d, expected %d .. %d", k, row, t, got->rank,
                          above_high + 1, above_low + 1);
            }
        }
    loupe_lens_free(result);
}

/* --contributions on a fixture: the residual rows are those of the plain
 * run, bit for bit with tile_gemm, else within projection_tolerance (the
 * projection has 3L + 1 rows per position instead of L + 1); each block's
 * two sub-block outputs add up to the difference of transformers' hidden
 * states around it (the last block's output is normalised there, so it is
 * left out); and at every position the attributions of the embedding and of
 * every sub-block output add up to the final logit of the target and of
 * the final top-1 less the final norm's bias term W_U[v] . beta
 * (docs/METRICS.md), with W_U and beta read from the model's own tensors. */
static void check_contributions(const fixture *f, const loupe_lens_result *plain) {
    const int T = f->T, L = f->L, C = f->C;
    loupe_lens_params params = loupe_lens_default_params();
    params.contributions = true;
    params.keep_taps = true;
    loupe_lens_result *result = NULL;
    loupe_error error;
    CHECK_MSG(loupe_lens_run(f->model, f->ids, T, &params, &result, &error) == LOUPE_OK, "%s", error.message);
    if (result == NULL) return;
    CHECK(loupe_lens_n_rows(result) == 3 * L + 1 && loupe_lens_row_count_with(L, false, true) == 3 * L + 1);
    CHECK(strcmp(loupe_lens_row_name(result, 1), "h1.attn_out") == 0 &&
          strcmp(loupe_lens_row_name(result, 2), "h1.mlp_out") == 0 && strcmp(loupe_lens_row_name(result, 3), "h1") == 0);
    for (int layer = 0; layer <= L; layer++)
        for (int t = 0; t < T; t++)
            CHECK(cells_agree(loupe_lens_cell_at(plain, layer, t), loupe_lens_cell_at(result, 3 * layer, t),
                              projection_tolerance()));
    const float *taps = loupe_lens_taps(result);
    CHECK(taps != NULL && loupe_lens_taps(plain) == NULL);
    if (taps == NULL) {
        loupe_lens_free(result);
        return;
    }
    double worst_block = 0.0;
    for (int layer = 1; layer < L; layer++) {
        char name[32];
        float *before = malloc((size_t)T * C * sizeof(float)), *after = malloc((size_t)T * C * sizeof(float));
        snprintf(name, sizeof name, "hidden.%d", layer - 1);
        const tensor_view *a = safetensors_find(&f->reference, name);
        snprintf(name, sizeof name, "hidden.%d", layer);
        const tensor_view *b = safetensors_find(&f->reference, name);
        CHECK(a && b && tensor_to_f32(a, before, NULL) == LOUPE_OK && tensor_to_f32(b, after, NULL) == LOUPE_OK);
        const float *attn_out = taps + (size_t)(3 * layer - 2) * T * C, *mlp_out = taps + (size_t)(3 * layer - 1) * T * C;
        for (size_t i = 0; a && b && i < (size_t)T * C; i++)
            worst_block = fmax(worst_block, fabs((double)attn_out[i] + mlp_out[i] - ((double)after[i] - before[i])));
        free(before), free(after);
    }
    CHECK_MSG(worst_block < 1e-4, "sub-block outputs vs transformers' hidden-state differences: %g", worst_block);
    const loupe_model *model = f->model;
    for (int t = 0; t < T; t++) {
        const loupe_lens_cell *final = loupe_lens_cell_at(result, 3 * L, t);
        const int32_t tokens[2] = {final->target.id, final->final_top.id};
        const float logits[2] = {final->target.logit, final->final_top.logit};
        for (int k = 0; k < 2; k++) {
            if (tokens[k] < 0) continue;
            double bias_term = 0.0, sum = 0.0, largest = 0.0;
            float *unembedding_row = malloc((size_t)C * sizeof(float)); /* (C) W_U[token] */
            weight_view_to_f32(&model->unembedding, tokens[k], 1, 0, C, unembedding_row, C);
            for (int c = 0; model->final_norm_bias && c < C; c++)
                bias_term += (double)unembedding_row[c] * model->final_norm_bias[c];
            free(unembedding_row);
            for (int row = 0; row < 3 * L + 1; row++) {
                const loupe_lens_cell *cell = loupe_lens_cell_at(result, row, t);
                CHECK((cell->attribution != NULL) == (row % 3 != 0 || row == 0));
                if (cell->attribution == NULL) continue;
                double part = k == 0 ? cell->attribution->target : cell->attribution->final_top;
                sum += part;
                largest = fmax(largest, fabs(part));
            }
            CHECK_MSG(fabs(sum - (logits[k] - bias_term)) <= 1e-4 * (1.0 + largest),
                      "position %d: attributions sum to %.7g, the final logit less the bias term is %.7g", t, sum,
                      logits[k] - bias_term);
        }
        CHECK(t + 1 < T || isnan(loupe_lens_cell_at(result, 0, t)->attribution->target));
    }
    loupe_lens_free(result);
}

static void check_fixture(const char *name) {
    fixture f;
    if (fixture_open(name, &f) != 0) {
        CHECK_MSG(0, "%s: fixture could not be read", name);
        fixture_close(&f);
        return;
    }
    loupe_error error;
    loupe_forward_params forward = loupe_forward_default_params();
    forward.tap = compare_tap;
    forward.tap_user = &f;
    CHECK(loupe_model_forward(f.model, f.ids, f.T, &forward, NULL, &error) == LOUPE_OK);

    loupe_lens_params params = loupe_lens_default_params();
    loupe_lens_result *result = NULL;
    CHECK_MSG(loupe_lens_run(f.model, f.ids, f.T, &params, &result, &error) == LOUPE_OK, "%s", error.message);
    if (result == NULL) {
        fixture_close(&f);
        return;
    }
    CHECK(loupe_lens_n_rows(result) == f.L + 1 && loupe_lens_n_positions(result) == f.T);
    CHECK(strcmp(loupe_lens_row_name(result, 0), "input") == 0);
    char last_name[16];
    snprintf(last_name, sizeof last_name, "h%d", f.L); /* "h3" for the GPT-2 fixtures */
    CHECK(strcmp(loupe_lens_row_name(result, f.L), last_name) == 0);
    CHECK(loupe_lens_row_name(result, f.L + 1) == NULL && loupe_lens_cell_at(result, 0, f.T) == NULL);
    check_cells(&f, result);
    CHECK(loupe_lens_cell_at(result, 0, 0)->n_tracked == 0 && loupe_lens_cell_at(result, 0, 0)->tracked == NULL);
    check_tracked(&f);
    check_contributions(&f, result);

    /* The last row's top-1 is the model's own next-token choice. */
    float *probs = malloc((size_t)f.V * sizeof *probs);
    CHECK(loupe_model_next_probs(f.model, f.ids, f.T, 1.0f, probs, &error) == LOUPE_OK);
    const loupe_lens_cell *last = loupe_lens_cell_at(result, f.L, f.T - 1);
    CHECK(fabsf(probs[last->top_ids[0]] - last->top_probs[0]) < 1e-5f);
    free(probs);

    /* Blocks of 1 and 3 positions change no cell beyond the rounding of
     * BLAS on other matrix shapes; sub-block rows change none at all. */
    int blocks[2] = {1, 3};
    for (int b = 0; b < 2; b++) {
        loupe_lens_params other = params;
        other.position_block = blocks[b];
        loupe_lens_result *again = NULL;
        CHECK(loupe_lens_run(f.model, f.ids, f.T, &other, &again, &error) == LOUPE_OK);
        for (int row = 0; again && row <= f.L; row++)
            for (int t = 0; t < f.T; t++)
                CHECK(cells_agree(loupe_lens_cell_at(result, row, t), loupe_lens_cell_at(again, row, t), 1e-5));
        loupe_lens_free(again);
    }
    loupe_lens_params with_subblocks = params;
    with_subblocks.subblocks = true;
    loupe_lens_result *sub = NULL;
    CHECK(loupe_lens_run(f.model, f.ids, f.T, &with_subblocks, &sub, &error) == LOUPE_OK);
    if (sub) {
        CHECK(loupe_lens_n_rows(sub) == 2 * f.L + 1);
        CHECK(strcmp(loupe_lens_row_name(sub, 1), "h1.attn") == 0 && strcmp(loupe_lens_row_name(sub, 2), "h1") == 0);
        /* The same taps: the same bits through tile_gemm, else within
         * projection_tolerance (2L + 1 rows per position). */
        const double tolerance = projection_tolerance();
        for (int layer = 0; layer <= f.L; layer++)
            for (int t = 0; t < f.T; t++)
                CHECK(cells_agree(loupe_lens_cell_at(result, layer, t),
                                  loupe_lens_cell_at(sub, layer == 0 ? 0 : 2 * layer, t), tolerance));
    }
    loupe_lens_free(sub);
    loupe_lens_free(result);
    fixture_close(&f);
}

static void check_arguments(void) {
    loupe_model *model = NULL;
    loupe_error error;
    if (loupe_model_open(test_data_path("gpt2-tiny-gelu"), &model, &error) != LOUPE_OK) return;
    int32_t ids[3] = {1, 2, 3};
    loupe_lens_params params = loupe_lens_default_params();
    loupe_lens_result *result = NULL;
    params.topk = 0;
    CHECK(loupe_lens_run(model, ids, 3, &params, &result, &error) == LOUPE_ERROR_ARGUMENT && result == NULL);
    params.topk = LOUPE_LENS_MAX_TOPK + 1;
    CHECK(loupe_lens_run(model, ids, 3, &params, &result, &error) == LOUPE_ERROR_ARGUMENT);
    params = loupe_lens_default_params();
    CHECK(loupe_lens_run(model, ids, 0, &params, &result, &error) == LOUPE_ERROR_ARGUMENT);
    int32_t too_long[65] = {0};
    CHECK(loupe_lens_run(model, too_long, 65, &params, &result, &error) == LOUPE_ERROR_LIMIT);
    CHECK(strstr(error.message, "65 tokens") != NULL);
    int32_t track[LOUPE_LENS_MAX_TRACK + 1] = {0};
    params.track_ids = track;
    params.n_track = LOUPE_LENS_MAX_TRACK + 1;
    CHECK(loupe_lens_run(model, ids, 3, &params, &result, &error) == LOUPE_ERROR_ARGUMENT && result == NULL);
    params.n_track = 2;
    track[1] = 1000; /* the tiny model has 1000 tokens */
    CHECK(loupe_lens_run(model, ids, 3, &params, &result, &error) == LOUPE_ERROR_ARGUMENT && result == NULL);
    CHECK(strstr(error.message, "track_ids[1]") != NULL);
    loupe_lens_free(NULL); /* a no-op */
    loupe_model_close(model);
}

int main(void) {
    /* ctest runs this once per level (LOUPE_CPU): tile_gemm and the AVX-512
     * statistics at avx512, matmul (BLAS) and the portable statistics below. */
    test_require_cpu_level("test_lens");
    check_fixture("gpt2-tiny-gelu");
    check_fixture("gpt2-tiny-relu");
    check_fixture("gpt2-tiny-bf16");
    check_fixture("llama-tiny");
    check_arguments();
    return test_finish("test_lens");
}
