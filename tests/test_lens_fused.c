/*
 * test_lens_fused.c - the one-pass lens statistics (src/lens/lens_fused.h)
 * against the oracle, lens_row_compute_reference (tests/reference), run on
 * the same rows whole: every row of a position, fed in chunks of several
 * sizes and in two stripes merged afterwards, in the body of the level this
 * run has (ctest runs it once per level, LOUPE_CPU). Ids and ranks must match exactly; values to 1e-6 (relative to 1 +
 * |value|). Also: a row compared with itself has KL 0, and a threshold that
 * differs from the logit seen asks for a recount.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lens/lens_fused.h"
#include "lens_fused_position.h"
#include "lens_stats_reference.h"
#include "test_support.h"
#include "util/cpu_features.h"

enum { TEST_ROWS = 5, TEST_MAX_VOCAB = 3000 };

static uint64_t random_state = 0x2545F4914F6CDD1Dull;

static double random_unit(void) { return test_random_unit(&random_state); }

static int close_to(double ours, double expected, double tolerance) {
    return fabs(ours - expected) <= tolerance * (1.0 + fabs(expected));
}

static void check_against_reference(const float *logits, int n_vocab, const int32_t ids[][3], int topk,
                                    const lens_row_stats *fused, const unsigned *masks, const char *what) {
    static float final_log_probs[TEST_MAX_VOCAB], final_probs[TEST_MAX_VOCAB];
    static float first_log_probs[TEST_MAX_VOCAB], first_probs[TEST_MAX_VOCAB];
    lens_reference first = lens_reference_compute(logits, n_vocab, first_log_probs, first_probs);
    lens_reference final = lens_reference_compute(logits + (size_t)(TEST_ROWS - 1) * n_vocab, n_vocab,
                                                  final_log_probs, final_probs);
    for (int r = 0; r < TEST_ROWS; r++) {
        lens_row_request request = {logits + (size_t)r * n_vocab, final, first, ids[r][0], ids[r][1],
                                    ids[r][2], topk};
        lens_row_stats expected;
        lens_row_compute_reference(&request, n_vocab, &expected);
        const lens_row_stats *ours = &fused[r];
        CHECK_MSG(masks[r] == 0, "%s row %d: recount asked (%u)", what, r, masks[r]);
        CHECK(ours->n_top == expected.n_top);
        for (int i = 0; i < expected.n_top && i < ours->n_top; i++) {
            CHECK_MSG(ours->top_ids[i] == expected.top_ids[i], "%s row %d top %d: %d vs %d", what, r, i,
                      ours->top_ids[i], expected.top_ids[i]);
            CHECK(close_to(ours->top_probs[i], expected.top_probs[i], 1e-6));
        }
        const loupe_lens_token *a[3] = {&ours->target, &ours->input, &ours->final_top};
        const loupe_lens_token *b[3] = {&expected.target, &expected.input, &expected.final_top};
        for (int k = 0; k < 3; k++) {
            CHECK_MSG(a[k]->id == b[k]->id && a[k]->rank == b[k]->rank, "%s row %d token %d: id %d rank %d vs %d %d",
                      what, r, k, a[k]->id, a[k]->rank, b[k]->id, b[k]->rank);
            CHECK(a[k]->logit == b[k]->logit);
            CHECK(close_to(a[k]->prob, b[k]->prob, 1e-6));
        }
        CHECK_MSG(close_to(ours->entropy, expected.entropy, 1e-6), "%s row %d entropy %.9g vs %.9g", what, r,
                  ours->entropy, expected.entropy);
        CHECK_MSG(close_to(ours->kl_final, expected.kl_final, 1e-6), "%s row %d kl_final %.9g vs %.9g", what, r,
                  ours->kl_final, expected.kl_final);
        CHECK_MSG(close_to(ours->kl_final_rev, expected.kl_final_rev, 1e-6), "%s row %d kl_final_rev %.9g vs %.9g",
                  what, r, ours->kl_final_rev, expected.kl_final_rev);
        CHECK_MSG(close_to(ours->kl_first, expected.kl_first, 1e-6), "%s row %d kl_first %.9g vs %.9g", what, r,
                  ours->kl_first, expected.kl_first);
        CHECK_MSG(close_to(ours->kl_first_rev, expected.kl_first_rev, 1e-6), "%s row %d kl_first_rev %.9g vs %.9g",
                  what, r, ours->kl_first_rev, expected.kl_first_rev);
    }
    /* properties: a reference row against itself */
    CHECK(fused[0].kl_first == 0.0f && fused[0].kl_first_rev == 0.0f);
    CHECK(fused[TEST_ROWS - 1].kl_final == 0.0f && fused[TEST_ROWS - 1].kl_final_rev == 0.0f);
}

/* Rows of V logits: spread `scale` around a per-row offset, with some rows
 * quantised so that ties occur. */
static void make_rows(float *logits, int n_vocab, double scale, int quantise) {
    for (int r = 0; r < TEST_ROWS; r++) {
        double offset = (random_unit() - 0.5) * 20.0;
        for (int v = 0; v < n_vocab; v++) {
            double value = offset + scale * (random_unit() - 0.5);
            if (quantise) value = floor(value * 4.0) / 4.0;
            logits[(size_t)r * n_vocab + v] = (float)value;
        }
    }
}

/* The k-th largest of row (V), or with `sample` of a third of its entries
 * (every third: distinct entries, as the driver's ranked tokens are);
 * -inf when there are fewer than k. */
static float kth_largest(const float *row, int n_vocab, int k, int sample) {
    static float values[TEST_MAX_VOCAB];
    int n = 0;
    for (int v = 0; v < n_vocab; v += sample ? 3 : 1) values[n++] = row[v];
    if (n < k) return -INFINITY;
    for (int i = 0; i < k; i++) /* selection: values[i] <- the i-th largest */
        for (int j = i + 1; j < n; j++)
            if (values[j] > values[i]) {
                float swap = values[i];
                values[i] = values[j], values[j] = swap;
            }
    return values[k - 1];
}

static void run_case(int n_vocab, double scale, int quantise, int topk, const char *what) {
    static float logits[TEST_ROWS * TEST_MAX_VOCAB];
    make_rows(logits, n_vocab, scale, quantise);
    int32_t ids[TEST_ROWS][3];
    for (int r = 0; r < TEST_ROWS; r++) {
        ids[r][0] = r == 2 ? -1 : (int32_t)(random_unit() * n_vocab);
        ids[r][1] = (int32_t)(random_unit() * n_vocab);
        ids[r][2] = (int32_t)(random_unit() * n_vocab);
    }
    const int chunks[] = {1, 7, 16, 64, 512};
    static lens_row_stats fused[TEST_ROWS];
    unsigned masks[TEST_ROWS];
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        int split = n_vocab / 3 + (int)c < n_vocab ? n_vocab / 3 + (int)c : n_vocab;
        char label[128];
        snprintf(label, sizeof label, "%s, level %s, chunk %d", what, cpu_level_name(cpu_features_level()),
                 chunks[c]);
        CHECK(test_lens_fused_position(logits, TEST_ROWS, n_vocab, (const int32_t(*)[3])ids, topk, chunks[c],
                                       split, NULL, fused, masks) == 0);
        check_against_reference(logits, n_vocab, (const int32_t(*)[3])ids, topk, fused, masks, label);
        /* floors as the driver sets them (the K-th largest of some known entries), and the tightest one (the
         * row's own K-th largest): the same statistics */
        for (int tight = 0; tight < 2; tight++) {
            float floors[TEST_ROWS];
            for (int r = 0; r < TEST_ROWS; r++) floors[r] = kth_largest(logits + (size_t)r * n_vocab, n_vocab, topk, !tight);
            snprintf(label, sizeof label, "%s, level %s, chunk %d, %s floor", what, cpu_level_name(cpu_features_level()),
                     chunks[c], tight ? "tight" : "known-entry");
            CHECK(test_lens_fused_position(logits, TEST_ROWS, n_vocab, (const int32_t(*)[3])ids, topk, chunks[c],
                                           split, floors, fused, masks) == 0);
            check_against_reference(logits, n_vocab, (const int32_t(*)[3])ids, topk, fused, masks, label);
        }
    }
}

/* A threshold that is not the logit the pass sees is reported. */
static void test_recount_is_asked(void) {
    static float logits[TEST_ROWS * 100];
    make_rows(logits, 100, 4.0, 0);
    lens_row_state states[TEST_ROWS];
    const int32_t ids[3] = {3, 5, 7};
    for (int r = 0; r < TEST_ROWS; r++) {
        float thresholds[3] = {logits[(size_t)r * 100 + 3], logits[(size_t)r * 100 + 5] + 1e-3f,
                               logits[(size_t)r * 100 + 7]};
        lens_row_state_begin(&states[r], ids, thresholds, 3);
    }
    double scratch[200];
    lens_fused_chunk(states, TEST_ROWS, logits, 100, logits + (size_t)(TEST_ROWS - 1) * 100, 0, 100, scratch);
    lens_row_stats out;
    unsigned mask = 0;
    lens_fused_finish(states, TEST_ROWS, 1, &out, &mask);
    CHECK(mask == 2u);
}

int main(void) {
    test_require_cpu_level("lens_fused");
    run_case(1000, 8.0, 0, 5, "spread 8");
    run_case(TEST_MAX_VOCAB, 40.0, 0, 100, "spread 40, top 100");
    run_case(777, 3.0, 1, 10, "ties");
    run_case(600, 3000.0, 0, 3, "spread 3000 (underflow)");
    run_case(1, 1.0, 0, 5, "one entry");
    test_recount_is_asked();
    return test_finish("lens_fused");
}
