/*
 * test_corpus_stats.c - the streaming corpus aggregate: the quantile sketch
 * against sorted values (its stated error bound), Spearman's rho against a
 * brute-force mid-rank computation, and every statistic of the aggregate
 * against a direct computation over the cells of real lens results on the
 * tiny GPT-2 fixture. Merging (loupe_corpus_stats_merge) and encoding
 * (loupe_corpus_stats_encode/_decode): aggregates of 1, 2, 3 and 7 shards
 * merged in several orders give every statistic the direct computation
 * gives, and exactly what one aggregate of every position gives; the merged
 * reservoir is a uniform sample (inclusion frequencies); a decoded aggregate
 * continues bit for bit; every truncation of an encoding is refused.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corpus/corpus_stats_internal.h"
#include "corpus/quantile_summary.h"
#include "corpus/rank_correlation.h"
#include "loupe.h"
#include "test_support.h"

static uint64_t random_state = 0x243F6A8885A308D3ull;

static double random_unit(void) { return test_random_unit(&random_state); }

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile by numpy's method="lower" of sorted (n). */
static double lower_quantile(const double *sorted, size_t n, double q) {
    return sorted[(size_t)floor(q * (double)(n - 1))];
}

/* ------------------------------------------------------------------------
 * The quantile summary
 * ---------------------------------------------------------------------- */

/* Draws n values of one of several shapes, each already rounded to float
 * (what the summary keeps in exact mode). */
static void draw(int shape, double *values, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double u = random_unit(), v;
        if (shape == 0) v = pow(10.0, -6.0 + 12.0 * u);             /* log-uniform over 12 decades */
        else if (shape == 1) v = floor(1.0 / (1e-5 + u * u));         /* integer ranks, heavy tail */
        else if (shape == 2) v = u < 0.3 ? 0.0 : -log(random_unit()); /* a third zeros, exponential */
        else v = 1.0 + floor(u * 5.0);                                /* five values, many ties */
        values[i] = (float)v;
    }
}

static void test_quantile_summary(void) {
    enum { N = 200000 };
    double *values = malloc(N * sizeof *values), *sorted = malloc(N * sizeof *sorted);
    const double alphas[] = {0.01, 0.05};
    for (int shape = 0; shape < 4; shape++)
        for (int a = 0; a < 2; a++)
            for (int exact_limit = 1000; exact_limit <= 2 * N; exact_limit *= 1000) {
                quantile_shape layout;
                CHECK(quantile_shape_init(&layout, alphas[a], 1e-9, 1e7, exact_limit));
                quantile_summary summary;
                quantile_summary_init(&summary);
                draw(shape, values, N);
                double sum = 0.0;
                for (size_t i = 0; i < N; i++) {
                    CHECK(quantile_summary_add(&summary, &layout, values[i]));
                    sum += values[i];
                }
                CHECK(quantile_summary_add(&summary, &layout, NAN)); /* ignored */
                memcpy(sorted, values, N * sizeof *sorted);
                qsort(sorted, N, sizeof *sorted, compare_doubles);
                bool exact = exact_limit >= N;
                CHECK(summary.count == N);
                CHECK(quantile_summary_is_exact(&summary) == exact);
                double mean = quantile_summary_mean(&summary);
                CHECK_MSG(fabs(mean - sum / N) <= 1e-12 * fabs(sum / N) + 1e-300, "mean %.17g vs %.17g", mean,
                          sum / N);
                double worst = 0.0;
                for (int step = 0; step <= 1000; step++) {
                    double q = step / 1000.0;
                    double truth = lower_quantile(sorted, N, q);
                    double estimate = quantile_summary_quantile(&summary, &layout, q);
                    if (exact) {
                        CHECK_MSG(estimate == truth, "exact q=%g: %.9g vs %.9g", q, estimate, truth);
                    } else if (truth < 1e-9) {
                        CHECK_MSG(estimate == 0.0, "q=%g below the sketch's minimum: %g", q, estimate);
                    } else {
                        double relative = fabs(estimate - truth) / truth;
                        if (relative > worst) worst = relative;
                        /* the stated bound, with room for the rounding of log and exp */
                        CHECK_MSG(relative <= alphas[a] * (1.0 + 1e-9),
                                  "shape %d alpha %g q=%g: %.9g vs %.9g (relative %.3g)", shape, alphas[a], q,
                                  estimate, truth, relative);
                    }
                }
                quantile_summary_free(&summary);
            }
    /* clamped to the values seen: a sketched rank 1 reads 1, the extremes are exact */
    quantile_shape layout;
    CHECK(quantile_shape_init(&layout, 0.01, 1e-9, 1e7, 10));
    quantile_summary ones;
    quantile_summary_init(&ones);
    for (int i = 0; i < 1000; i++) CHECK(quantile_summary_add(&ones, &layout, i < 700 ? 1.0 : 3.0 + i));
    CHECK(!quantile_summary_is_exact(&ones));
    CHECK(quantile_summary_quantile(&ones, &layout, 0.5) == 1.0);
    CHECK(quantile_summary_quantile(&ones, &layout, 0.0) == 1.0);
    CHECK(quantile_summary_quantile(&ones, &layout, 1.0) == 1002.0);
    quantile_summary_free(&ones);
    CHECK(!quantile_shape_init(&layout, 0.0, 1e-9, 1e7, 10));
    CHECK(!quantile_shape_init(&layout, 0.01, 1.0, 1.0, 10));
    quantile_summary empty;
    quantile_summary_init(&empty);
    CHECK(isnan(quantile_summary_mean(&empty)) && isnan(quantile_summary_quantile(&empty, &layout, 0.5)));
    free(values);
    free(sorted);
}

/* ------------------------------------------------------------------------
 * Spearman
 * ---------------------------------------------------------------------- */

/* Mid-ranks by counting: rank = #smaller + (#equal + 1) / 2. */
static void brute_ranks(const double *values, size_t n, double *ranks) {
    for (size_t i = 0; i < n; i++) {
        size_t smaller = 0, equal = 0;
        for (size_t j = 0; j < n; j++) {
            smaller += values[j] < values[i];
            equal += values[j] == values[i];
        }
        ranks[i] = (double)smaller + 0.5 * (double)(equal + 1);
    }
}

static double brute_pearson(const double *x, const double *y, size_t n) {
    double mx = 0, my = 0;
    for (size_t i = 0; i < n; i++) mx += x[i] / n, my += y[i] / n;
    double sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < n; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    return sxy / sqrt(sxx * syy);
}

static double brute_spearman(const double *x, const double *y, size_t n) {
    double *rx = malloc(n * sizeof *rx), *ry = malloc(n * sizeof *ry);
    brute_ranks(x, n, rx);
    brute_ranks(y, n, ry);
    double rho = brute_pearson(rx, ry, n);
    free(rx);
    free(ry);
    return rho;
}

static void test_spearman(void) {
    enum { N = 700 };
    double x[N], y[N], x2[N], y2[N];
    rank_entry scratch[N];
    for (int trial = 0; trial < 20; trial++) {
        for (int i = 0; i < N; i++) {
            x[i] = floor(random_unit() * (trial % 2 ? 20 : 1e6)); /* odd trials: many ties */
            y[i] = x[i] * (trial % 4 - 1.5) + floor(random_unit() * 30);
        }
        double expected = brute_spearman(x, y, N), rho = 0;
        memcpy(x2, x, sizeof x);
        memcpy(y2, y, sizeof y);
        CHECK(spearman_rho(x2, y2, N, scratch, &rho));
        CHECK_MSG(fabs(rho - expected) < 1e-12, "trial %d: %.15f vs %.15f", trial, rho, expected);
    }
    /* monotone relations: +1 and -1; a constant variable: undefined */
    for (int i = 0; i < N; i++) x[i] = i, y[i] = exp(i / 100.0), x2[i] = 7;
    double rho = 0;
    CHECK(spearman_rho(x, y, N, scratch, &rho) && rho == 1.0);
    for (int i = 0; i < N; i++) x[i] = i, y[i] = -i * i;
    CHECK(spearman_rho(x, y, N, scratch, &rho) && rho == -1.0);
    for (int i = 0; i < N; i++) y[i] = i;
    CHECK(!spearman_rho(x2, y, N, scratch, &rho));
    /* rho 0.5 from 103 pairs: atanh(0.5) -+ 1.96 sqrt(1.06 / 100), by hand 0.334170 .. 0.635803 */
    double low, high;
    CHECK(spearman_interval(0.5, 103, 1.959963984540054, &low, &high));
    CHECK_MSG(fabs(low - 0.33417032479) < 1e-9 && fabs(high - 0.63580282423) < 1e-9, "%.11f %.11f", low, high);
    CHECK(!spearman_interval(0.5, 3, 1.96, &low, &high));
}

/* ------------------------------------------------------------------------
 * The aggregate against the cells
 * ---------------------------------------------------------------------- */

static double cell_metric(const loupe_lens_cell *cell, int metric) {
    const double values[LOUPE_CORPUS_METRIC_COUNT] = {
        cell->target.rank, cell->target.prob, cell->input.rank,     cell->input.prob, cell->kl_final,
        cell->kl_final_rev, cell->kl_first,   cell->kl_first_rev, cell->entropy, -(double)cell->target.log_prob,
    };
    return values[metric];
}

typedef struct scored {
    const loupe_lens_result *lens;
    int t;
} scored;

/* Checks a summary against the values (n) directly. */
static void check_summary(loupe_corpus_summary got, double *values, size_t n, bool exact, const char *what) {
    CHECK_MSG(got.count == (int64_t)n, "%s: count %lld vs %zu", what, (long long)got.count, n);
    if (n == 0) {
        CHECK(isnan(got.mean) && isnan(got.median));
        return;
    }
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += values[i];
    qsort(values, n, sizeof *values, compare_doubles);
    CHECK_MSG(fabs(got.mean - sum / n) <= 1e-9 * fabs(sum / n) + 1e-12, "%s: mean %.12g vs %.12g", what, got.mean,
              sum / n);
    CHECK(got.exact == exact);
    const double qs[3] = {0.1, 0.5, 0.9}, gots[3] = {got.p10, got.median, got.p90};
    for (int k = 0; k < 3; k++) {
        double truth = lower_quantile(values, n, qs[k]);
        bool ok = exact ? gots[k] == truth
                        : (truth < 1e-9 ? gots[k] == 0.0 : fabs(gots[k] - truth) <= 0.01 * truth * (1 + 1e-9));
        CHECK_MSG(ok, "%s: q%.1f %.9g vs %.9g", what, qs[k], gots[k], truth);
    }
}

/* Every statistic of stats against the positions (n) it was given, computed
 * here; the bytes counted with token_bytes[id] = id % 5 + 1 when
 * bytes_counted, else none. */
static void check_aggregate(loupe_corpus_stats *stats, const scored *positions, int n, int R,
                            const int64_t *counts, int exact_limit, bool bytes_counted) {
    double *values = malloc((size_t)n * sizeof *values);
    char what[128];
    CHECK(loupe_corpus_stats_positions(stats) == n);
    CHECK(loupe_corpus_stats_n_rows(stats) == R);
    for (int row = 0; row < R; row++) {
        for (int m = 0; m < LOUPE_CORPUS_METRIC_COUNT; m++) {
            for (int i = 0; i < n; i++)
                values[i] = cell_metric(loupe_lens_cell_at(positions[i].lens, row, positions[i].t), m);
            snprintf(what, sizeof what, "row %d %s", row, loupe_corpus_metric_name((loupe_corpus_metric)m));
            check_summary(loupe_corpus_stats_summary(stats, row, (loupe_corpus_metric)m), values, (size_t)n,
                          n <= exact_limit, what);
        }
        int same_final = 0, same_target = 0, decided_here = 0;
        for (int i = 0; i < n; i++) {
            const loupe_lens_result *lens = positions[i].lens;
            int t = positions[i].t;
            int32_t top = loupe_lens_cell_at(lens, row, t)->top_ids[0];
            int32_t final_top = loupe_lens_cell_at(lens, R - 1, t)->top_ids[0];
            same_final += top == final_top;
            same_target += top == loupe_lens_ids(lens)[t + 1];
            /* decision row: the smallest l with every row >= l agreeing with the final top-1 */
            int decision = R - 1;
            for (int l = 0; l < R; l++) {
                bool all = true;
                for (int k = l; k < R; k++) all = all && loupe_lens_cell_at(lens, k, t)->top_ids[0] == final_top;
                if (all) {
                    decision = l;
                    break;
                }
            }
            decided_here += decision == row;
        }
        CHECK(fabs(loupe_corpus_stats_top1_final(stats, row) - (double)same_final / n) < 1e-15);
        CHECK(fabs(loupe_corpus_stats_top1_target(stats, row) - (double)same_target / n) < 1e-15);
        CHECK_MSG(loupe_corpus_stats_decision_count(stats, row) == decided_here, "row %d decisions %lld vs %d",
                  row, (long long)loupe_corpus_stats_decision_count(stats, row), decided_here);
    }
    CHECK(loupe_corpus_stats_top1_final(stats, R - 1) == 1.0);
    /* bits per byte by hand: the sum of -log p(target) over the targets' bytes (token_bytes: id % 5 + 1) */
    int64_t bytes = 0;
    for (int i = 0; bytes_counted && i < n; i++) bytes += loupe_lens_ids(positions[i].lens)[positions[i].t + 1] % 5 + 1;
    CHECK_MSG(loupe_corpus_stats_target_bytes(stats) == bytes, "target bytes %lld vs %lld",
              (long long)loupe_corpus_stats_target_bytes(stats), (long long)bytes);
    for (int row = 0; row < R; row++) {
        double nats = 0.0;
        for (int i = 0; i < n; i++) {
            const loupe_lens_cell *cell = loupe_lens_cell_at(positions[i].lens, row, positions[i].t);
            CHECK_MSG(fabs(cell->target.log_prob - log(cell->target.prob)) < 1e-5, "row %d log_prob %g vs prob %g",
                      row, cell->target.log_prob, cell->target.prob);
            nats -= log(cell->target.prob);
        }
        double expected = bytes_counted ? nats / (double)bytes / log(2.0) : NAN;
        double got = loupe_corpus_stats_bits_per_byte(stats, row);
        CHECK_MSG(bytes_counted ? fabs(got - expected) < 1e-5 * expected : isnan(got), "row %d bits per byte %.9g vs %.9g", row, got, expected);
    }
    CHECK(isnan(loupe_corpus_stats_bits_per_byte(stats, R)));
    if (counts == NULL) {
        CHECK(loupe_corpus_stats_n_buckets(stats) == 0);
        free(values);
        return;
    }
    /* buckets by hand for counts up to 5000 and base 10: 0, [1,10), [10,100), [100,1000), [1000,10000) */
    const double edges[6] = {0, 1, 10, 100, 1000, 10000};
    CHECK(loupe_corpus_stats_n_buckets(stats) == 5);
    for (int b = 0; b < 5; b++) {
        double low, high;
        loupe_corpus_stats_bucket_edges(stats, b, &low, &high);
        CHECK(low == edges[b] && high == edges[b + 1]);
        for (int row = 0; row < R; row++)
            for (int m = 0; m < 3; m++) {
                size_t k = 0;
                for (int i = 0; i < n; i++) {
                    double count = (double)counts[loupe_lens_ids(positions[i].lens)[positions[i].t]];
                    if (count >= edges[b] && count < edges[b + 1])
                        values[k++] = cell_metric(loupe_lens_cell_at(positions[i].lens, row, positions[i].t),
                                                  bucket_metrics[m]);
                }
                snprintf(what, sizeof what, "bucket %d row %d %s", b, row, loupe_corpus_metric_name(bucket_metrics[m]));
                check_summary(loupe_corpus_stats_bucket_summary(stats, b, row, bucket_metrics[m]), values, k,
                              (int)k <= exact_limit, what);
            }
    }
    /* Spearman over every position (fewer than the reservoir holds) */
    double *x = malloc((size_t)n * sizeof *x);
    for (int row = 0; row < R; row++) {
        for (int i = 0; i < n; i++) {
            x[i] = (double)counts[loupe_lens_ids(positions[i].lens)[positions[i].t]];
            values[i] = loupe_lens_cell_at(positions[i].lens, row, positions[i].t)->input.rank;
        }
        loupe_corpus_correlation got = loupe_corpus_stats_spearman(stats, row);
        CHECK(got.n == n);
        bool constant = true;
        for (int i = 1; i < n; i++) constant = constant && values[i] == values[0];
        if (constant) {
            CHECK_MSG(!got.defined, "row %d: every rank equal, yet rho is defined", row);
            continue;
        }
        double expected = brute_spearman(x, values, (size_t)n);
        CHECK_MSG(got.defined && fabs(got.rho - expected) < 1e-12, "row %d rho %.15f vs %.15f", row, got.rho,
                  expected);
        CHECK(got.low < got.rho && got.rho < got.high);
    }
    free(x);
    free(values);
}

/* The tiny GPT-2 fixture (NULL after a failed check), its rows and vocabulary. */
static loupe_model *open_tiny(int *R, int *V) {
    loupe_model *model = NULL;
    loupe_error error;
    if (loupe_model_open(test_data_path("gpt2-tiny-gelu"), &model, &error) != LOUPE_OK) {
        CHECK_MSG(false, "%s", error.message);
        return NULL;
    }
    loupe_model_info info;
    loupe_model_get_info(model, &info);
    *R = info.n_layer + 1;
    *V = info.n_vocab;
    return model;
}

/* Token counts (V): a few frequent tokens, many rare and some never seen. Caller frees. */
static int64_t *skewed_counts(int V) {
    int64_t *counts = calloc((size_t)V, sizeof *counts);
    for (int v = 0; v < V; v++) counts[v] = v < 5 ? 5000 - v : v % 7 == 0 ? 0 : (v * 37) % 800;
    return counts;
}

/* Runs the lens of `params` on `windows` texts of T (<= 64) ids drawn from a
 * skewed law into lenses; false after a failed check. */
static bool random_lenses(loupe_model *model, int V, int windows, int T, const loupe_lens_params *params,
                          loupe_lens_result **lenses) {
    int32_t ids[64];
    loupe_error error;
    for (int w = 0; w < windows; w++) {
        for (int t = 0; t < T; t++) {
            double u = random_unit();
            ids[t] = u < 0.2 ? (int32_t)(u * 25) : (int32_t)(random_unit() * V) % V;
        }
        if (loupe_lens_run(model, ids, T, params, &lenses[w], &error) != LOUPE_OK) {
            CHECK_MSG(false, "%s", error.message);
            return false;
        }
    }
    return true;
}

static void test_aggregate(void) {
    int R = 0, V = 0;
    loupe_model *model = open_tiny(&R, &V);
    if (model == NULL) return;
    loupe_error error;
    enum { WINDOWS = 3, T = 40 };
    loupe_lens_result *lenses[WINDOWS];
    int64_t *counts = skewed_counts(V);
    int32_t *token_bytes = calloc((size_t)V, sizeof *token_bytes);
    for (int v = 0; v < V; v++) token_bytes[v] = v % 5 + 1;
    loupe_lens_params params = loupe_lens_default_params();
    params.topk = 1;
    if (!random_lenses(model, V, WINDOWS, T, &params, lenses)) return;
    /* windows add different ranges, as a corpus run does */
    const int ranges[WINDOWS][2] = {{0, 39}, {5, 30}, {20, 39}};
    scored positions[WINDOWS * T];
    int n = 0;
    for (int w = 0; w < WINDOWS; w++)
        for (int t = ranges[w][0]; t < ranges[w][1]; t++) positions[n++] = (scored){lenses[w], t};

    const int limits[] = {100000, 7}; /* all exact; then the sketch almost everywhere */
    for (int l = 0; l < 2; l++)
        for (int with_counts = 0; with_counts < 2; with_counts++) {
            loupe_corpus_stats_params stats_params = loupe_corpus_stats_default_params();
            stats_params.exact_limit = limits[l];
            stats_params.token_counts = with_counts ? counts : NULL;
            stats_params.token_bytes = token_bytes;
            loupe_corpus_stats *stats = NULL;
            CHECK(loupe_corpus_stats_create(R, V, &stats_params, &stats, &error) == LOUPE_OK);
            if (stats == NULL) continue;
            for (int w = 0; w < WINDOWS; w++)
                CHECK(loupe_corpus_stats_add(stats, lenses[w], ranges[w][0], ranges[w][1], &error) == LOUPE_OK);
            check_aggregate(stats, positions, n, R, with_counts ? counts : NULL, limits[l], true);
            /* the last position has no target; a lens of another depth does not fit */
            CHECK(loupe_corpus_stats_add(stats, lenses[0], 0, T, &error) == LOUPE_ERROR_ARGUMENT);
            loupe_corpus_stats_free(stats);
        }

    /* the reservoir: a sample of exactly reservoir_size positions when there are more */
    loupe_corpus_stats_params small = loupe_corpus_stats_default_params();
    small.token_counts = counts;
    small.reservoir_size = 10;
    loupe_corpus_stats *stats = NULL;
    CHECK(loupe_corpus_stats_create(R, V, &small, &stats, &error) == LOUPE_OK);
    for (int w = 0; w < WINDOWS && stats; w++) loupe_corpus_stats_add(stats, lenses[w], 0, T - 1, &error);
    if (stats) CHECK(loupe_corpus_stats_spearman(stats, 1).n == 10);
    if (stats) CHECK(loupe_corpus_stats_target_bytes(stats) == 0 && isnan(loupe_corpus_stats_bits_per_byte(stats, 1)));
    loupe_corpus_stats_free(stats);
    token_bytes[3] = -1;
    small.token_bytes = token_bytes;
    CHECK(loupe_corpus_stats_create(R, V, &small, &stats, &error) == LOUPE_ERROR_ARGUMENT);

    loupe_corpus_stats_params bad = loupe_corpus_stats_default_params();
    bad.sketch_error = 0.0;
    CHECK(loupe_corpus_stats_create(R, V, &bad, &stats, &error) == LOUPE_ERROR_ARGUMENT);
    bad = loupe_corpus_stats_default_params();
    CHECK(loupe_corpus_stats_create(R + 1, V, &bad, &stats, &error) == LOUPE_OK);
    CHECK(loupe_corpus_stats_add(stats, lenses[0], 0, 3, &error) == LOUPE_ERROR_ARGUMENT);
    loupe_corpus_stats_free(stats);

    for (int w = 0; w < WINDOWS; w++) loupe_lens_free(lenses[w]);
    free(counts);
    free(token_bytes);
    loupe_model_close(model);
}

/* ------------------------------------------------------------------------
 * Merging and encoding
 * ---------------------------------------------------------------------- */

/* Two summaries equal as the report prints them: counts, exactness and
 * quantiles exactly, means to 1e-12 relative. */
static void check_same_summary(loupe_corpus_summary got, loupe_corpus_summary want, const char *what) {
    CHECK_MSG(got.count == want.count && got.exact == want.exact, "%s: count %lld/%lld exact %d/%d", what,
              (long long)got.count, (long long)want.count, got.exact, want.exact);
    if (want.count == 0) return;
    CHECK_MSG(fabs(got.mean - want.mean) <= 1e-12 * fabs(want.mean), "%s: mean %.17g vs %.17g", what, got.mean,
              want.mean);
    CHECK_MSG(got.p10 == want.p10 && got.median == want.median && got.p90 == want.p90,
              "%s: quantiles %.9g %.9g %.9g vs %.9g %.9g %.9g", what, got.p10, got.median, got.p90, want.p10,
              want.median, want.p90);
}

/* Every statistic of merged against single (one aggregate of every position). */
static void check_same_aggregate(loupe_corpus_stats *merged, loupe_corpus_stats *single, const char *how) {
    int R = loupe_corpus_stats_n_rows(single);
    char what[160];
    CHECK(loupe_corpus_stats_positions(merged) == loupe_corpus_stats_positions(single));
    CHECK(loupe_corpus_stats_target_bytes(merged) == loupe_corpus_stats_target_bytes(single));
    for (int row = 0; row < R; row++) {
        double got_bits = loupe_corpus_stats_bits_per_byte(merged, row);
        double want_bits = loupe_corpus_stats_bits_per_byte(single, row);
        CHECK_MSG((isnan(got_bits) && isnan(want_bits)) || fabs(got_bits - want_bits) <= 1e-12 * fabs(want_bits),
                  "%s: row %d bits per byte %.17g vs %.17g", how, row, got_bits, want_bits);
        for (int m = 0; m < LOUPE_CORPUS_METRIC_COUNT; m++) {
            snprintf(what, sizeof what, "%s: row %d %s", how, row, loupe_corpus_metric_name((loupe_corpus_metric)m));
            check_same_summary(loupe_corpus_stats_summary(merged, row, (loupe_corpus_metric)m),
                               loupe_corpus_stats_summary(single, row, (loupe_corpus_metric)m), what);
        }
        CHECK(loupe_corpus_stats_top1_final(merged, row) == loupe_corpus_stats_top1_final(single, row));
        CHECK(loupe_corpus_stats_top1_target(merged, row) == loupe_corpus_stats_top1_target(single, row));
        CHECK(loupe_corpus_stats_decision_count(merged, row) == loupe_corpus_stats_decision_count(single, row));
        for (int k = 0; k < loupe_corpus_stats_n_tracked(single); k++) {
            for (int m = 0; m < 2; m++) {
                snprintf(what, sizeof what, "%s: tracked %d row %d metric %d", how, k, row, m);
                check_same_summary(loupe_corpus_stats_tracked_summary(merged, k, row, (loupe_corpus_tracked_metric)m),
                                   loupe_corpus_stats_tracked_summary(single, k, row, (loupe_corpus_tracked_metric)m),
                                   what);
            }
            CHECK(loupe_corpus_stats_tracked_top1(merged, k, row) == loupe_corpus_stats_tracked_top1(single, k, row));
        }
        for (int b = 0; b < loupe_corpus_stats_n_buckets(single); b++)
            for (int m = 0; m < 3; m++) {
                loupe_corpus_metric metric = bucket_metrics[m];
                snprintf(what, sizeof what, "%s: bucket %d row %d %s", how, b, row, loupe_corpus_metric_name(metric));
                check_same_summary(loupe_corpus_stats_bucket_summary(merged, b, row, metric),
                                   loupe_corpus_stats_bucket_summary(single, b, row, metric), what);
            }
        if (loupe_corpus_stats_n_buckets(single) > 0) {
            loupe_corpus_correlation got = loupe_corpus_stats_spearman(merged, row);
            loupe_corpus_correlation want = loupe_corpus_stats_spearman(single, row);
            CHECK(got.n == want.n && got.defined == want.defined);
            CHECK_MSG(!want.defined || fabs(got.rho - want.rho) < 1e-12, "%s: row %d rho %.15f vs %.15f", how, row,
                      got.rho, want.rho);
        }
    }
}

/* The aggregate of shard `shard` of n_shards: windows w with w % n_shards
 * == shard, its reservoir seeded per shard; passed through encode/decode. */
static loupe_corpus_stats *shard_aggregate(loupe_lens_result **lenses, const int (*ranges)[2], int windows,
                                           int shard, int n_shards, int R, int V,
                                           const loupe_corpus_stats_params *params) {
    loupe_corpus_stats_params own = *params;
    own.seed = params->seed + 1000u * (uint64_t)shard;
    loupe_corpus_stats *stats = NULL, *decoded = NULL;
    loupe_error error;
    CHECK(loupe_corpus_stats_create(R, V, &own, &stats, &error) == LOUPE_OK);
    for (int w = shard; w < windows; w += n_shards)
        CHECK(loupe_corpus_stats_add(stats, lenses[w], ranges[w][0], ranges[w][1], &error) == LOUPE_OK);
    void *bytes = NULL;
    size_t size = 0;
    CHECK(loupe_corpus_stats_encode(stats, &bytes, &size, &error) == LOUPE_OK);
    CHECK_MSG(loupe_corpus_stats_decode(bytes, size, NULL, NULL, &decoded, &error) == LOUPE_OK, "%s", error.message);
    loupe_free(bytes);
    loupe_corpus_stats_free(stats);
    return decoded;
}

/* Shards of the windows merged in four orders: left to right, right to
 * left, as a balanced tree, and in a shuffled order; each result checked
 * against the direct computation and against the single aggregate. */
static void check_shards(loupe_lens_result **lenses, const int (*ranges)[2], int windows, const scored *positions,
                         int n, int R, int V, const loupe_corpus_stats_params *params, loupe_corpus_stats *single) {
    const int shard_counts[] = {1, 2, 3, 7};
    loupe_error error;
    for (int c = 0; c < 4; c++) {
        int N = shard_counts[c];
        for (int order = 0; order < 4; order++) {
            loupe_corpus_stats *parts[7];
            for (int i = 0; i < N; i++) parts[i] = shard_aggregate(lenses, ranges, windows, i, N, R, V, params);
            int sequence[7];
            for (int i = 0; i < N; i++) sequence[i] = order == 1 ? N - 1 - i : i;
            if (order == 3)
                for (int i = N - 1; i > 0; i--) {
                    int j = (int)(random_unit() * (i + 1)) % (i + 1), t = sequence[i];
                    sequence[i] = sequence[j];
                    sequence[j] = t;
                }
            if (order == 2) { /* pairs, then pairs of pairs */
                for (int step = 1; step < N; step *= 2)
                    for (int i = 0; i + step < N; i += 2 * step)
                        CHECK(loupe_corpus_stats_merge(parts[i], parts[i + step], &error) == LOUPE_OK);
            } else {
                for (int i = 1; i < N; i++)
                    CHECK(loupe_corpus_stats_merge(parts[sequence[0]], parts[sequence[i]], &error) == LOUPE_OK);
            }
            loupe_corpus_stats *merged = parts[order == 2 ? 0 : sequence[0]];
            char how[64];
            snprintf(how, sizeof how, "%d shards, order %d", N, order);
            check_aggregate(merged, positions, n, R, params->token_counts, params->exact_limit,
                            params->token_bytes != NULL);
            check_same_aggregate(merged, single, how);
            for (int i = 0; i < N; i++) loupe_corpus_stats_free(parts[i]);
        }
    }
}

/* The weighted reservoir merge keeps the sample uniform: three parts of 30,
 * 50 and 20 positions, each sampled uniformly (10 of them, or all), merged;
 * over many trials every position is in the merged sample of 10 with
 * frequency 10 / 100 (within five standard errors). */
static void test_reservoir_uniform(void) {
    enum { S = 10, TRIALS = 20000, PARTS = 3 };
    const int sizes[PARTS] = {30, 50, 20};
    int64_t *counts = calloc(100, sizeof *counts);
    for (int v = 0; v < 100; v++) counts[v] = v;
    loupe_corpus_stats_params params = loupe_corpus_stats_default_params();
    params.token_counts = counts;
    params.reservoir_size = S;
    int hits[100] = {0};
    loupe_error error;
    for (int trial = 0; trial < TRIALS; trial++) {
        loupe_corpus_stats *parts[PARTS];
        int first = 0;
        for (int p = 0; p < PARTS; p++) {
            params.seed = (uint64_t)trial * 7919u + (uint64_t)p;
            CHECK(loupe_corpus_stats_create(1, 100, &params, &parts[p], &error) == LOUPE_OK);
            /* a uniform sample of min(S, size) of the ids first .. first + size - 1 (partial shuffle) */
            int ids[50];
            for (int i = 0; i < sizes[p]; i++) ids[i] = first + i;
            int held = sizes[p] < S ? sizes[p] : S;
            CHECK(corpus_stats_reserve_reservoir(parts[p], held));
            for (int i = 0; i < held; i++) {
                int j = i + (int)(random_unit() * (sizes[p] - i)) % (sizes[p] - i), t = ids[i];
                ids[i] = ids[j];
                ids[j] = t;
                parts[p]->reservoir_frequency[i] = ids[i];
                parts[p]->reservoir_ranks[i] = 1.0f;
            }
            parts[p]->reservoir_count = held;
            parts[p]->reservoir_seen = parts[p]->positions = sizes[p];
            first += sizes[p];
        }
        int order = trial % 3; /* several merge orders */
        loupe_corpus_stats *into = parts[order];
        for (int p = 0; p < PARTS; p++)
            if (p != order) CHECK(loupe_corpus_stats_merge(into, parts[p], &error) == LOUPE_OK);
        CHECK(into->reservoir_count == S && into->reservoir_seen == 100);
        for (int i = 0; i < S; i++) hits[(int)into->reservoir_frequency[i]]++;
        for (int p = 0; p < PARTS; p++) loupe_corpus_stats_free(parts[p]);
    }
    double expected = (double)S / 100.0, tolerance = 5.0 * sqrt(expected * (1 - expected) / TRIALS);
    for (int v = 0; v < 100; v++)
        CHECK_MSG(fabs((double)hits[v] / TRIALS - expected) < tolerance, "position %d sampled with frequency %.4f", v,
                  (double)hits[v] / TRIALS);
    free(counts);
}

/* A decoded aggregate continues as the original: adding the same windows to
 * both gives the same encoding, byte for byte; every proper prefix of an
 * encoding, and other token counts, are refused. */
static void check_continue(loupe_lens_result **lenses, const int (*ranges)[2], int windows, int R, int V,
                           const loupe_corpus_stats_params *params) {
    loupe_error error;
    loupe_corpus_stats *original = NULL, *decoded = NULL;
    CHECK(loupe_corpus_stats_create(R, V, params, &original, &error) == LOUPE_OK);
    for (int w = 0; w < windows / 2; w++)
        CHECK(loupe_corpus_stats_add(original, lenses[w], ranges[w][0], ranges[w][1], &error) == LOUPE_OK);
    void *bytes = NULL, *again = NULL;
    size_t size = 0, size_again = 0;
    CHECK(loupe_corpus_stats_encode(original, &bytes, &size, &error) == LOUPE_OK);
    CHECK_MSG(loupe_corpus_stats_decode(bytes, size, params->token_counts, params->token_bytes, &decoded, &error) == LOUPE_OK, "%s",
              error.message);
    for (size_t cut = 0; cut < size; cut += 1 + cut / 64) {
        loupe_corpus_stats *refused = NULL;
        CHECK_MSG(loupe_corpus_stats_decode(bytes, cut, NULL, NULL, &refused, &error) == LOUPE_ERROR_FORMAT,
                  "a prefix of %zu of %zu bytes accepted", cut, size);
        CHECK(refused == NULL && error.message[0] != '\0');
    }
    if (params->token_counts != NULL) {
        int64_t *other = malloc((size_t)V * sizeof *other);
        memcpy(other, params->token_counts, (size_t)V * sizeof *other);
        other[0]++;
        loupe_corpus_stats *refused = NULL;
        CHECK(loupe_corpus_stats_decode(bytes, size, other, NULL, &refused, &error) == LOUPE_ERROR_ARGUMENT);
        free(other);
    }
    loupe_free(bytes);
    for (int w = windows / 2; w < windows && decoded; w++) {
        CHECK(loupe_corpus_stats_add(original, lenses[w], ranges[w][0], ranges[w][1], &error) == LOUPE_OK);
        CHECK(loupe_corpus_stats_add(decoded, lenses[w], ranges[w][0], ranges[w][1], &error) == LOUPE_OK);
    }
    CHECK(loupe_corpus_stats_encode(original, &bytes, &size, &error) == LOUPE_OK);
    if (decoded) CHECK(loupe_corpus_stats_encode(decoded, &again, &size_again, &error) == LOUPE_OK);
    CHECK(size == size_again && again != NULL && memcmp(bytes, again, size) == 0);
    loupe_free(bytes);
    loupe_free(again);
    loupe_corpus_stats_free(original);
    loupe_corpus_stats_free(decoded);
}

static void test_merge(void) {
    int R = 0, V = 0;
    loupe_model *model = open_tiny(&R, &V);
    if (model == NULL) return;
    loupe_error error;
    enum { WINDOWS = 9, T = 30 };
    const int32_t track[2] = {3, 17};
    loupe_lens_result *lenses[WINDOWS];
    int ranges[WINDOWS][2];
    scored positions[WINDOWS * T];
    int n = 0;
    int64_t *counts = skewed_counts(V);
    int32_t *token_bytes = calloc((size_t)V, sizeof *token_bytes);
    for (int v = 0; token_bytes != NULL && v < V; v++) token_bytes[v] = v % 5 + 1;
    loupe_lens_params lens_params = loupe_lens_default_params();
    lens_params.topk = 1;
    lens_params.track_ids = track;
    lens_params.n_track = 2;
    if (!random_lenses(model, V, WINDOWS, T, &lens_params, lenses)) return;
    for (int w = 0; w < WINDOWS; w++) {
        ranges[w][0] = w % 4;
        ranges[w][1] = T - 1 - w % 3;
        for (int t = ranges[w][0]; t < ranges[w][1]; t++) positions[n++] = (scored){lenses[w], t};
    }
    const int limits[] = {100000, 40, 0}; /* all exact; exact per shard but sketched merged; sketched throughout */
    for (int l = 0; l < 3; l++)
        for (int with_counts = 0; with_counts < 2; with_counts++) {
            loupe_corpus_stats_params params = loupe_corpus_stats_default_params();
            params.exact_limit = limits[l];
            params.token_counts = with_counts ? counts : NULL;
            params.token_bytes = with_counts ? token_bytes : NULL; /* bytes counted or not, as counts */
            params.track_ids = track;
            params.n_track = 2;
            loupe_corpus_stats *single = NULL;
            CHECK(loupe_corpus_stats_create(R, V, &params, &single, &error) == LOUPE_OK);
            for (int w = 0; w < WINDOWS; w++)
                CHECK(loupe_corpus_stats_add(single, lenses[w], ranges[w][0], ranges[w][1], &error) == LOUPE_OK);
            check_shards(lenses, ranges, WINDOWS, positions, n, R, V, &params, single);
            check_continue(lenses, ranges, WINDOWS, R, V, &params);
            loupe_corpus_stats_free(single);
        }

    /* a reservoir smaller than the positions: the merged sample has reservoir_size of them */
    loupe_corpus_stats_params small = loupe_corpus_stats_default_params();
    small.token_counts = counts;
    small.reservoir_size = 16;
    small.track_ids = track;
    small.n_track = 2;
    loupe_corpus_stats *a = shard_aggregate(lenses, ranges, WINDOWS, 0, 2, R, V, &small);
    loupe_corpus_stats *b = shard_aggregate(lenses, ranges, WINDOWS, 1, 2, R, V, &small);
    CHECK(a && b && loupe_corpus_stats_merge(a, b, &error) == LOUPE_OK);
    if (a) CHECK(loupe_corpus_stats_spearman(a, 1).n == 16 && a->reservoir_seen == n);
    /* different parameters are refused, naming them, the aggregate unchanged */
    loupe_corpus_stats_params other = small;
    other.exact_limit = 5;
    loupe_corpus_stats *c = shard_aggregate(lenses, ranges, WINDOWS, 0, 1, R, V, &other);
    int64_t before = a ? loupe_corpus_stats_positions(a) : 0;
    CHECK(a && c && loupe_corpus_stats_merge(a, c, &error) == LOUPE_ERROR_ARGUMENT);
    CHECK(strstr(error.message, "exact_limit") != NULL);
    if (a) CHECK(loupe_corpus_stats_positions(a) == before);
    loupe_corpus_stats_free(a);
    loupe_corpus_stats_free(b);
    loupe_corpus_stats_free(c);

    for (int w = 0; w < WINDOWS; w++) loupe_lens_free(lenses[w]);
    free(counts);
    free(token_bytes);
    loupe_model_close(model);
}

int main(void) {
    test_quantile_summary();
    test_spearman();
    test_aggregate();
    test_merge();
    test_reservoir_uniform();
    return test_finish("test_corpus_stats");
}
