/*
 * test_lens_stats.c - the logit-lens statistics (src/lens/lens_stats.h) where
 * the lens computes them: the kernel of src/lens/lens_fused.h, fed one
 * position's rows (input row, the row under test, final row) in chunks and
 * stripes as the lens driver feeds them.
 *
 * The kernel and the oracle (tests/reference/lens_stats_reference.c) are
 * both checked against a brute-force computation written here in double
 * precision, against hand-computed values, and against properties (KL >= 0,
 * KL(p, p) = 0, entropy of a uniform row = log V): ties, logits of +-1e30
 * and -inf, all-equal rows, underflowing rows; then the kernel is compared
 * with the oracle on full GPT-2-sized rows.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lens_fused_position.h"
#include "lens_stats_reference.h"
#include "test_support.h"

enum { GPT2_VOCAB = 50257 };

/* ------------------------------------------------------------------------
 * Inputs
 * ---------------------------------------------------------------------- */

/* A fixed-seed generator (xorshift64*), so failures reproduce. */
static uint64_t random_state = 0x9E3779B97F4A7C15ull;

static double random_unit(void) { return test_random_unit(&random_state); }

static void random_row(float *logits /* (V) */, int n_vocab, double low, double high) {
    for (int v = 0; v < n_vocab; v++) logits[v] = (float)(low + (high - low) * random_unit());
}

static int32_t random_id(int n_vocab) {
    return (int32_t)(random_unit() * n_vocab) % n_vocab;
}

/* One position: the row under test with its two comparison rows, as the
 * rows (3, V) the kernel sees (the input row first, the final row last), and
 * the buffers of the oracle's references; every array has V entries. */
enum { ROW_FIRST = 0, ROW_TESTED = 1, ROW_FINAL = 2, ROW_COUNT = 3 };

typedef struct row_case {
    int n_vocab;
    float *rows; /* (3, V) */
    float *first_logits, *logits, *final_logits; /* rows 0, 1, 2 of rows */
    float *final_log_probs, *final_probs, *first_log_probs, *first_probs;
    lens_row_request request; /* the tested row's tokens and topk, shared by all three rows */
} row_case;

static row_case row_case_new(int n_vocab) {
    row_case c;
    memset(&c, 0, sizeof c);
    c.n_vocab = n_vocab;
    c.rows = calloc((size_t)ROW_COUNT * n_vocab, sizeof(float));
    c.first_logits = c.rows + (size_t)ROW_FIRST * n_vocab;
    c.logits = c.rows + (size_t)ROW_TESTED * n_vocab;
    c.final_logits = c.rows + (size_t)ROW_FINAL * n_vocab;
    float **arrays[] = {&c.final_log_probs, &c.final_probs, &c.first_log_probs, &c.first_probs};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++)
        *arrays[i] = calloc((size_t)n_vocab, sizeof(float));
    c.request.logits = c.logits;
    c.request.target_id = c.request.input_id = c.request.final_top_id = -1;
    c.request.topk = 5;
    return c;
}

/* Builds the oracle's references from final_logits and first_logits. */
static void row_case_prepare(row_case *c) {
    c->request.final =
        lens_reference_compute(c->final_logits, c->n_vocab, c->final_log_probs, c->final_probs);
    c->request.first =
        lens_reference_compute(c->first_logits, c->n_vocab, c->first_log_probs, c->first_probs);
}

static void row_case_free(row_case *c) {
    float *arrays[] = {c->rows, c->final_log_probs, c->final_probs, c->first_log_probs, c->first_probs};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) free(arrays[i]);
}

/* ------------------------------------------------------------------------
 * The kernel and the oracle on a case
 * ---------------------------------------------------------------------- */

/* Every way a case is computed: the kernel fed in four ways (the whole row
 * as one chunk; chunks of 1, 16 and 512 in two stripes merged afterwards),
 * then the oracle. */
enum { VARIANT_ORACLE = 4, VARIANT_COUNT = 5 };

static const char *const variant_names[VARIANT_COUNT] = {
    "kernel, one chunk", "kernel, chunks of 1", "kernel, chunks of 16", "kernel, chunks of 512", "oracle"};

/* The kernel's statistics of all three rows of c (3), fed as `variant`. */
static void kernel_rows(const row_case *c, int variant, lens_row_stats out[ROW_COUNT]) {
    const int n = c->n_vocab;
    const int chunks[VARIANT_ORACLE] = {n, 1, 16, 512};
    const int splits[VARIANT_ORACLE] = {n, n / 2 + 1, n / 3 + 1, n / 3 + 1};
    int32_t ids[ROW_COUNT][3];
    for (int r = 0; r < ROW_COUNT; r++) {
        ids[r][0] = c->request.target_id;
        ids[r][1] = c->request.input_id;
        ids[r][2] = c->request.final_top_id;
    }
    unsigned masks[ROW_COUNT];
    int status = test_lens_fused_position(c->rows, ROW_COUNT, n, (const int32_t(*)[3])ids, c->request.topk,
                                          chunks[variant], splits[variant] < n ? splits[variant] : n, NULL, out, masks);
    CHECK(status == 0);
    for (int r = 0; r < ROW_COUNT; r++)
        CHECK_MSG(masks[r] == 0, "%s: row %d asks for a recount (%u)", variant_names[variant], r, masks[r]);
}

/* The tested row of c in every variant, into out (VARIANT_COUNT). */
static void compute_variants(const row_case *c, lens_row_stats out[VARIANT_COUNT]) {
    for (int variant = 0; variant < VARIANT_ORACLE; variant++) {
        lens_row_stats rows[ROW_COUNT];
        kernel_rows(c, variant, rows);
        out[variant] = rows[ROW_TESTED];
    }
    lens_row_compute_reference(&c->request, c->n_vocab, &out[VARIANT_ORACLE]);
}

/* ------------------------------------------------------------------------
 * Brute force, in double, straight from the logits
 * ---------------------------------------------------------------------- */

static void brute_log_softmax(const float *logits, int n_vocab, double *log_probs /* (V) */) {
    double max_logit = -INFINITY;
    for (int v = 0; v < n_vocab; v++) max_logit = fmax(max_logit, logits[v]);
    double sum = 0.0;
    for (int v = 0; v < n_vocab; v++) sum += exp(logits[v] - max_logit);
    for (int v = 0; v < n_vocab; v++) log_probs[v] = (logits[v] - max_logit) - log(sum);
}

static double brute_kl(const double *log_p, const double *log_q, int n_vocab) {
    double kl = 0.0;
    for (int v = 0; v < n_vocab; v++)
        if (exp(log_p[v]) > 0.0) kl += exp(log_p[v]) * (log_p[v] - log_q[v]);
    return kl;
}

static int32_t brute_rank(const float *logits, int n_vocab, int32_t id) {
    int32_t larger = 0;
    for (int v = 0; v < n_vocab; v++) larger += logits[v] > logits[id];
    return larger + 1;
}

static const float *sort_logits;

static int compare_top_order(const void *a, const void *b) {
    int32_t ia = *(const int32_t *)a, ib = *(const int32_t *)b;
    if (sort_logits[ia] != sort_logits[ib]) return sort_logits[ia] > sort_logits[ib] ? -1 : 1;
    return ia < ib ? -1 : 1;
}

/* ------------------------------------------------------------------------
 * Comparisons
 * ---------------------------------------------------------------------- */

static int close_to(double actual, double expected, double relative, double absolute) {
    return fabs(actual - expected) <= absolute + relative * fabs(expected);
}

static int stats_all_finite(const lens_row_stats *s) {
    int finite = isfinite(s->entropy) && isfinite(s->kl_final) && isfinite(s->kl_final_rev) &&
                 isfinite(s->kl_first) && isfinite(s->kl_first_rev) &&
                 isfinite(s->target.prob) && isfinite(s->input.prob) &&
                 isfinite(s->final_top.prob);
    for (int i = 0; i < s->n_top; i++) finite = finite && isfinite(s->top_probs[i]);
    return finite;
}

static void check_token(const char *label, const loupe_lens_token *token, const float *logits,
                        int n_vocab, int32_t id, const double *log_probs) {
    if (id < 0) {
        CHECK_MSG(token->id == -1 && token->prob == 0.0f && token->rank == 0, "%s absent", label);
        return;
    }
    CHECK_MSG(token->id == id, "%s id %d vs %d", label, token->id, id);
    CHECK_MSG(token->logit == logits[id], "%s logit", label);
    CHECK_MSG(token->rank == brute_rank(logits, n_vocab, id), "%s rank %d vs %d", label,
              token->rank, brute_rank(logits, n_vocab, id));
    CHECK_MSG(close_to(token->prob, exp(log_probs[id]), 1e-6, 1e-30), "%s prob %.9g vs %.9g",
              label, token->prob, exp(log_probs[id]));
    /* finite even where the probability underflows */
    CHECK_MSG(close_to(token->log_prob, log_probs[id], 1e-6, 1e-5), "%s log_prob %.9g vs %.9g", label,
              token->log_prob, log_probs[id]);
}

/* Checks every field of stats, those of row `logits` (V) of c, against
 * the brute force on c. */
static void check_against_brute_force(const char *label, const row_case *c, const float *logits,
                                      const lens_row_stats *stats) {
    int n = c->n_vocab;
    double *log_p = malloc((size_t)n * sizeof(double));
    double *log_final = malloc((size_t)n * sizeof(double));
    double *log_first = malloc((size_t)n * sizeof(double));
    int32_t *order = malloc((size_t)n * sizeof(int32_t));
    brute_log_softmax(logits, n, log_p);
    brute_log_softmax(c->final_logits, n, log_final);
    brute_log_softmax(c->first_logits, n, log_first);
    for (int v = 0; v < n; v++) order[v] = v;
    sort_logits = logits;
    qsort(order, (size_t)n, sizeof(int32_t), compare_top_order);

    int expected_top = c->request.topk < n ? c->request.topk : n;
    CHECK_MSG(stats->n_top == expected_top, "%s: n_top %d vs %d", label, stats->n_top,
              expected_top);
    for (int i = 0; i < expected_top && i < stats->n_top; i++) {
        CHECK_MSG(stats->top_ids[i] == order[i], "%s: top %d id %d vs %d", label, i,
                  stats->top_ids[i], order[i]);
        CHECK_MSG(stats->top_logits[i] == logits[order[i]], "%s: top %d logit", label, i);
        CHECK_MSG(close_to(stats->top_probs[i], exp(log_p[order[i]]), 1e-6, 1e-30),
                  "%s: top %d prob %.9g vs %.9g", label, i, stats->top_probs[i],
                  exp(log_p[order[i]]));
    }
    check_token("target", &stats->target, logits, n, c->request.target_id, log_p);
    check_token("input", &stats->input, logits, n, c->request.input_id, log_p);
    check_token("final_top", &stats->final_top, logits, n, c->request.final_top_id, log_p);

    double entropy = 0.0;
    for (int v = 0; v < n; v++)
        if (exp(log_p[v]) > 0.0) entropy -= exp(log_p[v]) * log_p[v];
    CHECK_MSG(close_to(stats->entropy, entropy, 1e-6, 1e-7), "%s: entropy %.9g vs %.9g", label,
              stats->entropy, entropy);
    /* The kernel sees the references as float log-probs and probs; their
     * rounding moves a KL by a few 1e-8 per nat of log-probability. */
    const double kl_relative = 1e-5, kl_absolute = 1e-6;
    double expected[4] = {brute_kl(log_final, log_p, n), brute_kl(log_p, log_final, n),
                          brute_kl(log_first, log_p, n), brute_kl(log_p, log_first, n)};
    float actual[4] = {stats->kl_final, stats->kl_final_rev, stats->kl_first,
                       stats->kl_first_rev};
    const char *names[4] = {"kl_final", "kl_final_rev", "kl_first", "kl_first_rev"};
    for (int i = 0; i < 4; i++)
        CHECK_MSG(close_to(actual[i], expected[i], kl_relative, kl_absolute),
                  "%s: %s %.9g vs %.9g", label, names[i], actual[i], expected[i]);
    free(log_p);
    free(log_final);
    free(log_first);
    free(order);
}

/* Exact agreement on ids, ranks and counts; 1e-6 relative on the rest. */
static void check_agrees_with_oracle(const char *label, const lens_row_stats *fast,
                              const lens_row_stats *reference) {
    CHECK_MSG(fast->n_top == reference->n_top, "%s: n_top", label);
    for (int i = 0; i < fast->n_top && i < reference->n_top; i++) {
        CHECK_MSG(fast->top_ids[i] == reference->top_ids[i], "%s: top %d id", label, i);
        CHECK_MSG(close_to(fast->top_probs[i], reference->top_probs[i], 1e-6, 1e-30),
                  "%s: top %d prob %.9g vs %.9g", label, i, fast->top_probs[i],
                  reference->top_probs[i]);
    }
    const loupe_lens_token *fast_tokens[3] = {&fast->target, &fast->input, &fast->final_top};
    const loupe_lens_token *reference_tokens[3] = {&reference->target, &reference->input,
                                                   &reference->final_top};
    for (int i = 0; i < 3; i++) {
        CHECK_MSG(fast_tokens[i]->id == reference_tokens[i]->id, "%s: token %d id", label, i);
        CHECK_MSG(fast_tokens[i]->rank == reference_tokens[i]->rank, "%s: token %d rank %d vs %d",
                  label, i, fast_tokens[i]->rank, reference_tokens[i]->rank);
        CHECK_MSG(fast_tokens[i]->logit == reference_tokens[i]->logit, "%s: token %d logit",
                  label, i);
        CHECK_MSG(close_to(fast_tokens[i]->prob, reference_tokens[i]->prob, 1e-6, 1e-30),
                  "%s: token %d prob %.9g vs %.9g", label, i, fast_tokens[i]->prob,
                  reference_tokens[i]->prob);
    }
    float fast_values[5] = {fast->entropy, fast->kl_final, fast->kl_final_rev, fast->kl_first,
                            fast->kl_first_rev};
    float reference_values[5] = {reference->entropy, reference->kl_final,
                                 reference->kl_final_rev, reference->kl_first,
                                 reference->kl_first_rev};
    for (int i = 0; i < 5; i++)
        CHECK_MSG(close_to(fast_values[i], reference_values[i], 1e-6, 1e-9),
                  "%s: value %d %.9g vs %.9g", label, i, fast_values[i], reference_values[i]);
}

/* Computes c in every variant and checks the results against the brute
 * force: all three rows from the kernel, the tested row from the oracle. */
static void check_case(const char *label, const row_case *c) {
    char name[160];
    for (int variant = 0; variant < VARIANT_ORACLE; variant++) {
        lens_row_stats rows[ROW_COUNT];
        kernel_rows(c, variant, rows);
        for (int r = 0; r < ROW_COUNT; r++) {
            snprintf(name, sizeof name, "%s (%s, row %d)", label, variant_names[variant], r);
            check_against_brute_force(name, c, c->rows + (size_t)r * c->n_vocab, &rows[r]);
        }
    }
    lens_row_stats oracle;
    lens_row_compute_reference(&c->request, c->n_vocab, &oracle);
    snprintf(name, sizeof name, "%s (oracle)", label);
    check_against_brute_force(name, c, c->logits, &oracle);
}

/* ------------------------------------------------------------------------
 * Tests
 * ---------------------------------------------------------------------- */

static void test_small_vocabularies_against_brute_force(void) {
    const int sizes[] = {1, 2, 7, 50};
    const int topks[] = {1, 3, 5, 60};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int n = sizes[s];
        for (int trial = 0; trial < 8; trial++) {
            row_case c = row_case_new(n);
            random_row(c.logits, n, -8.0, 8.0);
            random_row(c.final_logits, n, -8.0, 8.0);
            random_row(c.first_logits, n, -8.0, 8.0);
            row_case_prepare(&c);
            c.request.topk = topks[trial % 4];
            c.request.target_id = trial == 0 ? -1 : random_id(n);
            c.request.input_id = random_id(n);
            c.request.final_top_id = random_id(n);
            char label[64];
            snprintf(label, sizeof label, "V=%d trial %d", n, trial);
            check_case(label, &c);
            row_case_free(&c);
        }
    }
}

static void test_rank_ties(void) {
    /* ids:           0  1  2  3  4  5 */
    const float row[6] = {1, 3, 3, 0, 3, 1};
    row_case c = row_case_new(6);
    memcpy(c.logits, row, sizeof row);
    memcpy(c.final_logits, row, sizeof row);
    memcpy(c.first_logits, row, sizeof row);
    row_case_prepare(&c);
    c.request.topk = 6;
    c.request.target_id = 5; /* tied with id 0 below the three 3s: rank 4 */
    c.request.input_id = 2;  /* tied at the top: rank 1 */
    c.request.final_top_id = 3;
    const int32_t expected_order[6] = {1, 2, 4, 0, 5, 3};
    lens_row_stats stats[VARIANT_COUNT];
    compute_variants(&c, stats);
    for (int k = 0; k < VARIANT_COUNT; k++) {
        CHECK(stats[k].n_top == 6);
        for (int i = 0; i < 6; i++) CHECK(stats[k].top_ids[i] == expected_order[i]);
        CHECK(stats[k].target.rank == 4);
        CHECK(stats[k].input.rank == 1);
        CHECK(stats[k].final_top.rank == 6);
        /* p(3) = e^3 / (3 e^3 + 2 e + 1) */
        double expected_top = exp(3.0) / (3.0 * exp(3.0) + 2.0 * exp(1.0) + 1.0);
        CHECK(close_to(stats[k].top_probs[0], expected_top, 1e-6, 0.0));
        CHECK(stats[k].top_probs[1] == stats[k].top_probs[0]);
    }
    row_case_free(&c);

    /* Ties across the kernel's 16-entry scan blocks, its chunks and stripes, and at the edge of the
     * top-k list: 40 entries, ids 10, 17, 33 at 2, the rest at 1. */
    row_case wide = row_case_new(40);
    for (int v = 0; v < 40; v++) wide.logits[v] = wide.final_logits[v] = wide.first_logits[v] = 1;
    wide.logits[10] = wide.logits[17] = wide.logits[33] = 2;
    row_case_prepare(&wide);
    wide.request.topk = 5;
    wide.request.target_id = 39;
    wide.request.input_id = 33;
    compute_variants(&wide, stats);
    const int32_t expected_wide[5] = {10, 17, 33, 0, 1};
    for (int k = 0; k < VARIANT_COUNT; k++) {
        for (int i = 0; i < 5; i++) CHECK(stats[k].top_ids[i] == expected_wide[i]);
        CHECK(stats[k].target.rank == 4);
        CHECK(stats[k].input.rank == 1);
    }
    row_case_free(&wide);

    /* All equal: every rank is 1 and the top-k are the smallest ids. */
    row_case flat = row_case_new(50);
    row_case_prepare(&flat);
    flat.request.topk = 7;
    flat.request.target_id = 49;
    compute_variants(&flat, stats);
    for (int k = 0; k < VARIANT_COUNT; k++) {
        for (int i = 0; i < 7; i++) CHECK(stats[k].top_ids[i] == i);
        CHECK(stats[k].target.rank == 1);
        CHECK(close_to(stats[k].target.prob, 1.0 / 50.0, 1e-6, 0.0));
    }
    row_case_free(&flat);
}

static void test_hand_computed_kl(void) {
    /* Row q = uniform (1/3, 1/3, 1/3); final p = (1/2, 1/4, 1/4) from logits
     * (log 2, 0, 0); first r = (1/5, 2/5, 2/5) from logits (0, log 2, log 2).
     *   KL(p || q) = 1/2 log(3/2) + 1/2 log(3/4)  = 1/2 log(9/8)
     *   KL(q || p) = 1/3 [log(2/3) + 2 log(4/3)]   = 1/3 log(32/27)
     *   KL(r || q) = 1/5 log(3/5) + 4/5 log(6/5)   = log(3/5) + 4/5 log 2
     *   KL(q || r) = 1/3 [log(5/3) + 2 log(5/6)]   = 1/3 log(125/108) */
    row_case c = row_case_new(3);
    c.final_logits[0] = (float)log(2.0);
    c.first_logits[1] = c.first_logits[2] = (float)log(2.0);
    row_case_prepare(&c);
    const double kl_final = 0.5 * log(9.0 / 8.0);       /* 0.058891517 */
    const double kl_final_rev = log(32.0 / 27.0) / 3.0; /* 0.056633301 */
    const double kl_first = log(0.6) + 0.8 * log(2.0);  /* 0.044670359 */
    const double kl_first_rev = log(125.0 / 108.0) / 3.0; /* 0.048705929 */
    lens_row_stats stats[VARIANT_COUNT];
    compute_variants(&c, stats);
    for (int k = 0; k < VARIANT_COUNT; k++) {
        CHECK_MSG(close_to(stats[k].kl_final, kl_final, 1e-6, 0.0), "%.9g", stats[k].kl_final);
        CHECK_MSG(close_to(stats[k].kl_final_rev, kl_final_rev, 1e-6, 0.0), "%.9g",
                  stats[k].kl_final_rev);
        CHECK_MSG(close_to(stats[k].kl_first, kl_first, 1e-6, 0.0), "%.9g", stats[k].kl_first);
        CHECK_MSG(close_to(stats[k].kl_first_rev, kl_first_rev, 1e-6, 0.0), "%.9g",
                  stats[k].kl_first_rev);
        CHECK(close_to(stats[k].entropy, log(3.0), 1e-6, 0.0));
    }
    row_case_free(&c);
}

static void test_properties(void) {
    /* KL >= 0 and entropy in [0, log V] on random rows of several scales. */
    const int sizes[] = {2, 50, 1000};
    const double scales[] = {0.1, 3.0, 30.0};
    for (size_t s = 0; s < 3; s++) {
        for (size_t k = 0; k < 3; k++) {
            int n = sizes[s];
            row_case c = row_case_new(n);
            random_row(c.logits, n, -scales[k], scales[k]);
            random_row(c.final_logits, n, -scales[k], scales[k]);
            random_row(c.first_logits, n, -2.0 * scales[k], 0.0);
            row_case_prepare(&c);
            lens_row_stats stats[VARIANT_COUNT];
            compute_variants(&c, stats);
            for (int t = 0; t < VARIANT_COUNT; t++) {
                CHECK(stats[t].kl_final >= 0.0f && stats[t].kl_final_rev >= 0.0f);
                CHECK(stats[t].kl_first >= 0.0f && stats[t].kl_first_rev >= 0.0f);
                CHECK(stats[t].entropy >= 0.0f);
                CHECK(stats[t].entropy <= log((double)n) * (1.0 + 1e-6));
            }
            row_case_free(&c);
        }
    }

    /* KL of a row with itself, through the float references the driver
     * builds: 0 to 1e-7, on a GPT-2-sized vocabulary, uniform and random. */
    for (int trial = 0; trial < 4; trial++) {
        row_case c = row_case_new(GPT2_VOCAB);
        if (trial > 0) random_row(c.logits, GPT2_VOCAB, -10.0 * trial, 5.0 * trial);
        memcpy(c.final_logits, c.logits, GPT2_VOCAB * sizeof(float));
        memcpy(c.first_logits, c.logits, GPT2_VOCAB * sizeof(float));
        row_case_prepare(&c);
        lens_row_stats stats[VARIANT_COUNT];
        compute_variants(&c, stats);
        for (int t = 0; t < VARIANT_COUNT; t++) {
            CHECK_MSG(stats[t].kl_final <= 1e-7f && stats[t].kl_final_rev <= 1e-7f,
                      "trial %d: %g %g", trial, stats[t].kl_final, stats[t].kl_final_rev);
            CHECK_MSG(stats[t].kl_first <= 1e-7f && stats[t].kl_first_rev <= 1e-7f,
                      "trial %d: %g %g", trial, stats[t].kl_first, stats[t].kl_first_rev);
            if (trial == 0) {
                CHECK_MSG(close_to(stats[t].entropy, log((double)GPT2_VOCAB), 1e-6, 0.0),
                          "uniform entropy %.9g", stats[t].entropy);
                CHECK(close_to(stats[t].top_probs[0], 1.0 / GPT2_VOCAB, 1e-6, 0.0));
            }
        }
        row_case_free(&c);
    }
}

static void test_extreme_rows(void) {
    const int n = 1000;
    lens_row_stats stats[VARIANT_COUNT];

    /* One entry at +1e30, the rest at -1e30: a one-hot row. */
    row_case hot = row_case_new(n);
    for (int v = 0; v < n; v++) hot.logits[v] = hot.first_logits[v] = -1e30f;
    hot.logits[123] = hot.first_logits[123] = 1e30f;
    row_case_prepare(&hot); /* final: uniform; first: the row itself */
    hot.request.target_id = 123;
    hot.request.input_id = 7;
    hot.request.topk = 3;
    compute_variants(&hot, stats);
    for (int t = 0; t < VARIANT_COUNT; t++) {
        CHECK(stats_all_finite(&stats[t]));
        CHECK(stats[t].top_ids[0] == 123 && stats[t].top_probs[0] == 1.0f);
        CHECK(stats[t].top_ids[1] == 0 && stats[t].top_probs[1] == 0.0f);
        CHECK(stats[t].target.rank == 1 && stats[t].target.prob == 1.0f);
        CHECK(stats[t].input.rank == 2 && stats[t].input.prob == 0.0f);
        CHECK(stats[t].entropy == 0.0f);
        /* KL(one-hot || uniform) = log V; KL(uniform || one-hot) = the mean
         * log-ratio, about (V-1)/V * 2e30: huge but finite. */
        CHECK_MSG(close_to(stats[t].kl_final_rev, log((double)n), 1e-6, 0.0), "%.9g",
                  stats[t].kl_final_rev);
        CHECK_MSG(close_to(stats[t].kl_final, 2e30 * (n - 1) / n, 1e-6, 0.0), "%.9g",
                  stats[t].kl_final);
        CHECK(stats[t].kl_first == 0.0f && stats[t].kl_first_rev == 0.0f);
    }
    row_case_free(&hot);

    /* Random values across +-1e30 against other such rows. */
    row_case wild = row_case_new(n);
    random_row(wild.logits, n, -1e30, 1e30);
    random_row(wild.final_logits, n, -1e30, 1e30);
    random_row(wild.first_logits, n, -1e30, 1e30);
    row_case_prepare(&wild);
    wild.request.target_id = 5;
    wild.request.final_top_id = 9;
    compute_variants(&wild, stats);
    for (int t = 0; t < VARIANT_COUNT; t++) {
        CHECK(stats_all_finite(&stats[t]));
        CHECK(stats[t].top_probs[0] == 1.0f && stats[t].entropy == 0.0f);
        CHECK(stats[t].kl_final > 0.0f && stats[t].kl_final_rev > 0.0f);
    }
    for (int t = 0; t < VARIANT_ORACLE; t++) check_agrees_with_oracle(variant_names[t], &stats[t], &stats[VARIANT_ORACLE]);
    row_case_free(&wild);

    /* All equal at 1e30: uniform. */
    row_case flat = row_case_new(n);
    for (int v = 0; v < n; v++) flat.logits[v] = 1e30f;
    random_row(flat.final_logits, n, -3.0, 3.0);
    row_case_prepare(&flat);
    flat.request.target_id = 999;
    compute_variants(&flat, stats);
    for (int t = 0; t < VARIANT_COUNT; t++) {
        CHECK(stats_all_finite(&stats[t]));
        CHECK(close_to(stats[t].entropy, log((double)n), 1e-6, 0.0));
        CHECK(close_to(stats[t].target.prob, 1.0 / n, 1e-6, 0.0) && stats[t].target.rank == 1);
    }
    check_case("all equal at 1e30", &flat);
    row_case_free(&flat);

    /* exp underflows to 0 for nearly every entry of the row (logits down to
     * -5000) while the final row is uniform: KL(uniform || row) weighs the
     * underflowed entries by their finite log-probabilities. */
    row_case deep = row_case_new(n);
    random_row(deep.logits, n, -5000.0, 0.0);
    deep.logits[3] = 0.0f;
    random_row(deep.first_logits, n, -5000.0, 0.0);
    row_case_prepare(&deep);
    deep.request.input_id = 3;
    check_case("underflowing row", &deep);
    compute_variants(&deep, stats);
    for (int t = 0; t < VARIANT_COUNT; t++) CHECK(stats_all_finite(&stats[t]) && stats[t].kl_final > 1000.0f);
    row_case_free(&deep);

    /* A masked entry (-inf) in the row and in its own reference: probability
     * 0, no NaN, and the row still has KL 0 with itself. */
    row_case masked = row_case_new(n);
    random_row(masked.logits, n, -4.0, 4.0);
    masked.logits[17] = -INFINITY;
    memcpy(masked.final_logits, masked.logits, (size_t)n * sizeof(float));
    memcpy(masked.first_logits, masked.logits, (size_t)n * sizeof(float));
    row_case_prepare(&masked);
    CHECK(masked.final_log_probs[17] == -INFINITY && masked.final_probs[17] == 0.0f);
    masked.request.target_id = 17;
    compute_variants(&masked, stats);
    for (int t = 0; t < VARIANT_COUNT; t++) {
        CHECK(stats_all_finite(&stats[t]));
        CHECK(stats[t].target.prob == 0.0f && stats[t].target.rank == n);
        CHECK(stats[t].kl_final <= 1e-7f && stats[t].kl_final_rev <= 1e-7f);
    }
    row_case_free(&masked);

    /* A -inf entry in one distribution where the other has mass: the KL
     * that weighs it by that mass is infinite (saturated at FLT_MAX), the
     * other direction is finite and skips it (0 log 0 = 0). The row is
     * masked at 17, the final row is not; the input row is masked at 29,
     * the row is not. */
    row_case one_sided = row_case_new(n);
    random_row(one_sided.logits, n, -4.0, 4.0);
    memcpy(one_sided.final_logits, one_sided.logits, (size_t)n * sizeof(float));
    memcpy(one_sided.first_logits, one_sided.logits, (size_t)n * sizeof(float));
    one_sided.logits[17] = -INFINITY;
    one_sided.first_logits[17] = -INFINITY;
    one_sided.first_logits[29] = -INFINITY;
    row_case_prepare(&one_sided);
    one_sided.request.target_id = 17;
    one_sided.request.input_id = 29;
    /* By hand: q the row, p the final row (q with entry 17 put back),
     * r the input row (q with entry 29 taken out):
     *   KL(q || p) = log(Z_p / Z_q), KL(q || r) = inf, KL(r || q) = log(Z_q / Z_r). */
    double partition_row = 0.0, partition_final = 0.0, partition_first = 0.0;
    for (int v = 0; v < n; v++) {
        partition_row += exp((double)one_sided.logits[v]);
        partition_final += exp((double)one_sided.final_logits[v]);
        partition_first += exp((double)one_sided.first_logits[v]);
    }
    compute_variants(&one_sided, stats);
    for (int t = 0; t < VARIANT_COUNT; t++) {
        CHECK_MSG(stats[t].kl_final == FLT_MAX, "%s: kl_final %.9g", variant_names[t], stats[t].kl_final);
        CHECK_MSG(close_to(stats[t].kl_final_rev, log(partition_final / partition_row), 1e-5, 1e-7),
                  "%s: kl_final_rev %.9g vs %.9g", variant_names[t], stats[t].kl_final_rev,
                  log(partition_final / partition_row));
        CHECK_MSG(stats[t].kl_first_rev == FLT_MAX, "%s: kl_first_rev %.9g", variant_names[t],
                  stats[t].kl_first_rev);
        CHECK_MSG(close_to(stats[t].kl_first, log(partition_row / partition_first), 1e-5, 1e-7),
                  "%s: kl_first %.9g vs %.9g", variant_names[t], stats[t].kl_first,
                  log(partition_row / partition_first));
        CHECK(stats[t].target.prob == 0.0f && stats[t].target.rank == n);
        CHECK(stats[t].input.prob > 0.0f && isfinite(stats[t].entropy));
    }
    row_case_free(&one_sided);
}

static void test_kernel_against_oracle_on_gpt2_rows(void) {
    /* Spreads like GPT-2 lens rows: narrow near the input, wide and shifted
     * near the output. */
    const double lows[] = {-2.0, -15.0, -120.0, -30.0};
    const double highs[] = {2.0, 10.0, -60.0, 30.0};
    const int topks[] = {5, 100, 1, 37};
    row_case c = row_case_new(GPT2_VOCAB);
    for (int trial = 0; trial < 4; trial++) {
        random_row(c.logits, GPT2_VOCAB, lows[trial], highs[trial]);
        random_row(c.final_logits, GPT2_VOCAB, -120.0, -60.0);
        random_row(c.first_logits, GPT2_VOCAB, -5.0, 5.0);
        if (trial == 3) /* a few peaked tokens and exact ties at the top */
            for (int v = 0; v < GPT2_VOCAB; v += 997) c.logits[v] = 40.0f;
        row_case_prepare(&c);
        c.request.topk = topks[trial];
        c.request.target_id = random_id(GPT2_VOCAB);
        c.request.input_id = random_id(GPT2_VOCAB);
        c.request.final_top_id = random_id(GPT2_VOCAB);
        lens_row_stats stats[VARIANT_COUNT];
        compute_variants(&c, stats);
        for (int t = 0; t < VARIANT_ORACLE; t++) {
            char label[96];
            snprintf(label, sizeof label, "V=%d trial %d, %s", GPT2_VOCAB, trial, variant_names[t]);
            check_agrees_with_oracle(label, &stats[t], &stats[VARIANT_ORACLE]);
            CHECK(stats_all_finite(&stats[t]));
        }
        if (trial == 1) check_case("V=50257 trial 1", &c);
    }
    row_case_free(&c);
}

int main(void) {
    /* ctest runs this once per level (LOUPE_CPU): the fused kernel's AVX-512 body and its portable one. */
    test_require_cpu_level("test_lens_stats");
    test_small_vocabularies_against_brute_force();
    test_rank_ties();
    test_hand_computed_kl();
    test_properties();
    test_extreme_rows();
    test_kernel_against_oracle_on_gpt2_rows();
    return test_finish("test_lens_stats");
}
