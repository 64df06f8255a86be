/*
 * test_lens_bf16.c - the bf16 lens (loupe_lens_params.precision =
 * LOUPE_PRECISION_BF16) against the exact one, on every logit of every
 * cell: for each model, the taps of the forward pass are normed and
 * projected three ways - the float32 path (loupe_model_unembed, BLAS), a
 * double-precision product (matmul_reference) and the bf16 kernel - and
 * every bf16 logit must lie within the cell's logit_error_bound of both
 * exact ones. The cells the lens reports must agree: their tokens' logits
 * within the bound of the exact lens's, the bound the one of the cell's
 * normed row, top1_guaranteed exactly when the top-1 leads the second by
 * more than twice the bound, and then the exact lens's top-1 the same. The
 * bf16 lens gives the same bits on 1 and 2 threads; the f32 lens reports
 * bound 0, every top-1 guaranteed.
 *
 * usage: test_lens_bf16 [MODEL_DIR...]: without arguments the Hugging Face
 * fixtures of tests/data; tests/cli/lens_bf16.sh passes random checkpoints.
 * Skips (77) on a CPU without AVX512_BF16, where the mode is refused.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "kernels/bf16_gemm.h"
#include "kernels/matmul.h"
#include "lens/lens_bf16.h"
#include "loupe.h"
#include "model/model.h"
#include "test_support.h"

/* Collects the taps in row order into taps (R, T, C). */
typedef struct tap_copy {
    float *taps;
    int next_row, n_rows;
} tap_copy;

static loupe_status copy_tap(void *user, loupe_tap_kind kind, int layer, const float *residual, int T, int C) {
    (void)kind, (void)layer;
    tap_copy *copy = user;
    if (copy->next_row >= copy->n_rows) return LOUPE_ERROR_ARGUMENT;
    memcpy(copy->taps + (size_t)copy->next_row++ * T * C, residual, (size_t)T * C * sizeof(float));
    return LOUPE_OK;
}

static loupe_lens_result *run_lens(const loupe_model *model, const int32_t *ids, int T, loupe_precision precision,
                                   int threads) {
#ifdef _OPENMP
    omp_set_num_threads(threads);
#else
    (void)threads;
#endif
    loupe_lens_params params = loupe_lens_default_params();
    params.subblocks = true;
    params.topk = 3;
    params.position_block = 5; /* several blocks, one partial */
    params.precision = precision;
    loupe_lens_result *result = NULL;
    loupe_error error;
    if (loupe_lens_run(model, ids, T, &params, &result, &error) != LOUPE_OK)
        CHECK_MSG(0, "lens: %s", error.message);
    return result;
}

/* Whether two cells hold the same values, bit for bit. */
static bool same_cell(const loupe_lens_cell *a, const loupe_lens_cell *b) {
    return a->n_top == b->n_top && memcmp(a->top_ids, b->top_ids, (size_t)a->n_top * sizeof(int32_t)) == 0 &&
           memcmp(a->top_probs, b->top_probs, (size_t)a->n_top * sizeof(float)) == 0 &&
           memcmp(&a->target, &b->target, sizeof a->target) == 0 && memcmp(&a->input, &b->input, sizeof a->input) == 0 &&
           memcmp(&a->final_top, &b->final_top, sizeof a->final_top) == 0 &&
           memcmp(&a->entropy, &b->entropy, 5 * sizeof(float)) == 0 &&
           memcmp(&a->logit_error_bound, &b->logit_error_bound, sizeof(float)) == 0 &&
           a->top1_guaranteed == b->top1_guaranteed;
}

/* The index of the largest of logits (V), the smaller on ties, and the second largest value. */
static int top_two(const float *logits, int V, float *second) {
    int best = 0;
    for (int v = 1; v < V; v++)
        if (logits[v] > logits[best]) best = v;
    *second = -INFINITY;
    for (int v = 0; v < V; v++)
        if (v != best && logits[v] > *second) *second = logits[v];
    return best;
}

/* One cell's token against the exact logits: same id, logit within the bound. */
static void check_token(const char *name, const loupe_lens_token *bf16, const loupe_lens_token *exact,
                        const float *exact_logits, double bound, int *bad) {
    if (bf16->id < 0) return;
    *bad += !(fabs((double)bf16->logit - exact_logits[bf16->id]) <= bound);
    if (bf16->id == exact->id) *bad += !(fabs((double)bf16->logit - exact->logit) <= bound);
    (void)name;
}

static void check_model(const char *directory) {
    loupe_model *model = NULL;
    loupe_error error;
    if (loupe_model_open(directory, &model, &error) != LOUPE_OK) {
        CHECK_MSG(0, "%s", error.message);
        return;
    }
    loupe_model_info info;
    loupe_model_get_info(model, &info);
    const int C = info.n_embd, V = info.n_vocab, T = info.n_ctx < 13 ? info.n_ctx : 13;
    const int R = loupe_lens_row_count(info.n_layer, true), Kp = bf16_gemm_padded_width(C);
    int32_t ids[13];
    uint64_t state = 0x853C49E6748FEA9Bull;
    for (int t = 0; t < T; t++) ids[t] = (int32_t)(test_random_unit(&state) * V);

    tap_copy copy = {.taps = malloc((size_t)R * T * C * sizeof(float)), .next_row = 0, .n_rows = R};
    float *normed = malloc((size_t)C * sizeof(float)), *f32_logits = malloc((size_t)V * sizeof(float));
    float *double_logits = malloc((size_t)V * sizeof(float)), *bf16_logits = malloc((size_t)V * sizeof(float));
    uint16_t *normed_bf16 = aligned_alloc(64, (size_t)bf16_gemm_padded_rows(1) * Kp * sizeof(uint16_t));
    lens_bf16_unembedding unembedding = {0};
    float *unembedding_f32 = malloc((size_t)V * C * sizeof(float)); /* (V, C) the weights as floats, exactly */
    loupe_lens_result *exact = NULL, *one = NULL, *two = NULL;
    if (!copy.taps || !normed || !f32_logits || !double_logits || !bf16_logits || !normed_bf16 || !unembedding_f32 ||
        !lens_bf16_unembedding_build(&unembedding, &model->unembedding, V, C)) {
        CHECK(!"out of memory");
        goto done;
    }
    weight_view_to_f32(&model->unembedding, 0, V, 0, C, unembedding_f32, C);
    memset(normed_bf16, 0, (size_t)bf16_gemm_padded_rows(1) * Kp * sizeof(uint16_t));
    loupe_forward_params forward = loupe_forward_default_params();
    forward.tap = copy_tap, forward.tap_user = &copy, forward.tap_after_attention = true;
    if (loupe_model_forward(model, ids, T, &forward, NULL, &error) != LOUPE_OK) {
        CHECK_MSG(0, "%s", error.message);
        goto done;
    }
    exact = run_lens(model, ids, T, LOUPE_PRECISION_F32, 2);
    one = run_lens(model, ids, T, LOUPE_PRECISION_BF16, 1);
    two = run_lens(model, ids, T, LOUPE_PRECISION_BF16, 2);
    if (!exact || !one || !two) goto done;

    int beyond = 0, token_beyond = 0, wrong_bound = 0, wrong_flag = 0, wrong_top = 0, differ = 0, exact_flags = 0;
    int guaranteed = 0;
    double worst = 0.0;
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) {
            const loupe_lens_cell *cell = loupe_lens_cell_at(one, r, t), *f32 = loupe_lens_cell_at(exact, r, t);
            differ += !same_cell(cell, loupe_lens_cell_at(two, r, t));
            exact_flags += !(f32->logit_error_bound == 0.0f && f32->top1_guaranteed);
            loupe_model_final_norm(model, copy.taps + ((size_t)r * T + t) * C, 1, normed);
            loupe_model_unembed(model, normed, 1, f32_logits);
            matmul_reference(double_logits, normed, unembedding_f32, NULL, 1, C, V, MATMUL_WEIGHT_OUT_IN, false);
            bf16_convert_rows(normed_bf16, normed, 1, C);
            bf16_gemm(bf16_logits, V, normed_bf16, 1, unembedding.rows, V, C);
            const double bound = cell->logit_error_bound;
            wrong_bound += !(cell->logit_error_bound ==
                             lens_bf16_logit_error_bound(&unembedding, lens_bf16_row_norm(normed, C)));
            for (int v = 0; v < V; v++) {
                const double error_f32 = fabs((double)bf16_logits[v] - f32_logits[v]);
                const double error_double = fabs((double)bf16_logits[v] - double_logits[v]);
                beyond += !(error_f32 <= bound) + !(error_double <= bound);
                worst = fmax(worst, fmax(error_f32, error_double) / bound);
            }
            check_token("target", &cell->target, &f32->target, f32_logits, bound, &token_beyond);
            check_token("input", &cell->input, &f32->input, f32_logits, bound, &token_beyond);
            check_token("final_top", &cell->final_top, &f32->final_top, f32_logits, bound, &token_beyond);
            float second = 0.0f;
            const int top = top_two(bf16_logits, V, &second);
            const bool leads = V < 2 || (double)bf16_logits[top] - second > 2.0 * bound;
            wrong_flag += cell->top1_guaranteed != leads || cell->top_ids[0] != top;
            if (cell->top1_guaranteed) {
                guaranteed++;
                float ignored;
                wrong_top += f32->top_ids[0] != top || top_two(f32_logits, V, &ignored) != top;
            }
        }
    printf("  %s: %d x %d cells x %d logits, worst error / bound %.4f, %d top-1 guaranteed\n", directory, R, T, V,
           worst, guaranteed);
    CHECK_MSG(beyond == 0, "%s: %d logits beyond their cell's bound", directory, beyond);
    CHECK_MSG(token_beyond == 0, "%s: %d token logits beyond the bound", directory, token_beyond);
    CHECK_MSG(wrong_bound == 0, "%s: %d cells with a bound not their normed row's", directory, wrong_bound);
    CHECK_MSG(wrong_flag == 0, "%s: %d cells with a wrong top1_guaranteed or top-1", directory, wrong_flag);
    CHECK_MSG(wrong_top == 0, "%s: %d guaranteed top-1s not the exact lens's", directory, wrong_top);
    CHECK_MSG(differ == 0, "%s: %d cells differ between 1 and 2 threads", directory, differ);
    CHECK_MSG(exact_flags == 0, "%s: %d f32 cells with a bound or an unguaranteed top-1", directory, exact_flags);
    CHECK_MSG(worst > 0.0, "%s: no error at all: the bf16 path did not run", directory);
done:
    loupe_lens_free(exact), loupe_lens_free(one), loupe_lens_free(two);
    lens_bf16_unembedding_free(&unembedding);
    free(copy.taps), free(normed), free(f32_logits), free(double_logits), free(bf16_logits), free(normed_bf16), free(unembedding_f32);
    loupe_model_close(model);
}

int main(int argc, char **argv) {
    if (!bf16_gemm_available()) {
        printf("test_lens_bf16: no AVX512_BF16 here: the mode is refused (tests/cli/lens_bf16.sh checks how)\n");
        return TEST_SKIP_STATUS;
    }
    if (argc > 1) {
        for (int i = 1; i < argc; i++) check_model(argv[i]);
    } else {
        const char *fixtures[] = {"gpt2-tiny-gelu", "gpt2-tiny-relu", "gpt2-tiny-bf16", "llama-tiny"};
        for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
            char path[600];
            snprintf(path, sizeof path, "%s", test_data_path(fixtures[i]));
            check_model(path);
        }
    }
    return test_finish("test_lens_bf16");
}
