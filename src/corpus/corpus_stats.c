/*
 * corpus_stats.c - the streaming aggregate of lens results over a corpus.
 *
 * Per row: one quantile summary per metric (quantile_summary.h: exact up to
 * exact_limit values, then a relative-error sketch), counts of top-1
 * agreement, and the decision-row histogram. With token counts: per
 * frequency bucket and row, summaries of the input token's rank, prob and
 * KL(input row || row), and a reservoir sample of positions (frequency and
 * the input rank at every row) for Spearman's rho. With tracked tokens: per
 * token and row, summaries of its rank and prob and a count of top-1s.
 * Nothing grows with the corpus: every buffer is sized at create.
 *
 * Shapes: R rows, M metrics, B frequency buckets, S reservoir size, V vocab,
 * N tracked tokens.
 *
 * The cross-entropy ("ce") is one more metric, -log p(target) from each
 * cell's target log-probability; with token byte lengths the aggregate
 * also counts the bytes of the scored targets, for bits per byte.
 */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "corpus/corpus_stats_internal.h"
#include "corpus/quantile_summary.h"
#include "corpus/rank_correlation.h"
#include "loupe.h"
#include "util/error.h"
#include "util/string_map.h"

loupe_corpus_stats_params loupe_corpus_stats_default_params(void) {
    loupe_corpus_stats_params params = {
        .exact_limit = 10000,
        .sketch_error = 0.01,
        .token_counts = NULL,
        .frequency_base = 10.0,
        .reservoir_size = 20000,
        .seed = 1,
        .track_ids = NULL,
        .n_track = 0,
        .token_bytes = NULL,
    };
    return params;
}

const char *loupe_corpus_metric_name(loupe_corpus_metric metric) {
    static const char *const names[METRICS] = {
        "target_rank", "target_prob", "input_rank",   "input_prob", "kl_final",
        "kl_final_rev", "kl_first",   "kl_first_rev", "entropy", "ce",
    };
    if ((int)metric < 0 || metric >= LOUPE_CORPUS_METRIC_COUNT) return NULL;
    return names[metric];
}

/* ------------------------------------------------------------------------
 * Create and free
 * ---------------------------------------------------------------------- */

/* Bucket edges 0, 1, b, b^2, ... up to the first power above max_count. */
static loupe_status make_buckets(loupe_corpus_stats *stats, loupe_error *error) {
    int64_t max_count = 0;
    for (int v = 0; v < stats->n_vocab; v++) {
        if (stats->counts[v] < 0)
            return error_set(error, LOUPE_ERROR_ARGUMENT, "token_counts[%d] is negative", v);
        if (stats->counts[v] > max_count) max_count = stats->counts[v];
    }
    stats->edges[0] = 0.0;
    stats->edges[1] = 1.0;
    int n = 1;
    while (stats->edges[n] <= (double)max_count) {
        if (n == MAX_BUCKETS)
            return error_set(error, LOUPE_ERROR_LIMIT, "more than %d frequency buckets: raise frequency_base",
                             MAX_BUCKETS);
        stats->edges[n + 1] = stats->edges[n] * stats->params.frequency_base;
        n++;
    }
    stats->n_buckets = n;
    return LOUPE_OK;
}

/* Checks the sizes and parameters of an aggregate. */
static loupe_status validate(int n_rows, int n_vocab, const loupe_corpus_stats_params *params,
                             loupe_error *error) {
    if (n_rows < 1 || n_rows > 1 << 16 || n_vocab < 1)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "corpus statistics of %d rows over %d tokens", n_rows,
                         n_vocab);
    if (params->exact_limit < 0 || params->exact_limit > 1 << 26)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "exact_limit must be 0 .. 2^26, not %d", params->exact_limit);
    if (!(params->sketch_error >= 1e-4 && params->sketch_error <= 0.5))
        return error_set(error, LOUPE_ERROR_ARGUMENT, "sketch_error must be 1e-4 .. 0.5, not %g",
                         params->sketch_error);
    if (!(params->frequency_base >= 1.5 && params->frequency_base <= 1e6))
        return error_set(error, LOUPE_ERROR_ARGUMENT, "frequency_base must be 1.5 .. 1e6, not %g",
                         params->frequency_base);
    if (params->reservoir_size < 4 || params->reservoir_size > 1 << 24)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "reservoir_size must be 4 .. 2^24, not %d",
                         params->reservoir_size);
    if (params->n_track < 0 || params->n_track > LOUPE_LENS_MAX_TRACK || (params->n_track > 0 && !params->track_ids))
        return error_set(error, LOUPE_ERROR_ARGUMENT, "n_track must be 0 .. %d with its track_ids, not %d",
                         LOUPE_LENS_MAX_TRACK, params->n_track);
    for (int k = 0; k < params->n_track; k++)
        if (params->track_ids[k] < 0 || params->track_ids[k] >= n_vocab)
            return error_set(error, LOUPE_ERROR_ARGUMENT, "track_ids[%d]: %d is not a token id below %d", k,
                             (int)params->track_ids[k], n_vocab);
    for (int v = 0; params->token_bytes != NULL && v < n_vocab; v++)
        if (params->token_bytes[v] < 0)
            return error_set(error, LOUPE_ERROR_ARGUMENT, "token_bytes[%d] is negative", v);
    return LOUPE_OK;
}

uint64_t corpus_stats_counts_hash(const int64_t *counts, int n_vocab) {
    uint64_t hash = STRING_HASH_START;
    for (int v = 0; v < n_vocab; v++) {
        uint8_t bytes[8];
        for (int i = 0; i < 8; i++) bytes[i] = (uint8_t)((uint64_t)counts[v] >> (8 * i));
        hash = string_hash_extend(hash, bytes, sizeof bytes);
    }
    return hash;
}

/* Empties n summaries. */
static void init_summaries(quantile_summary *summaries, size_t n) {
    for (size_t i = 0; i < n; i++) quantile_summary_init(&summaries[i]);
}

bool corpus_stats_allocate_rarity(loupe_corpus_stats *stats) {
    size_t n_bucket_summaries = (size_t)stats->n_buckets * (size_t)stats->n_rows * BUCKET_METRICS;
    stats->bucket_summaries = malloc(n_bucket_summaries * sizeof *stats->bucket_summaries);
    if (stats->bucket_summaries == NULL) return false;
    init_summaries(stats->bucket_summaries, n_bucket_summaries);
    stats->rarity = true;
    return true;
}

bool corpus_stats_reserve_reservoir(loupe_corpus_stats *stats, int needed) {
    if (needed <= stats->reservoir_capacity) return true;
    int capacity = stats->reservoir_capacity > 0 ? stats->reservoir_capacity : 256;
    while (capacity < needed) capacity = capacity > INT_MAX / 2 ? INT_MAX : capacity * 2;
    if (capacity > stats->params.reservoir_size) capacity = stats->params.reservoir_size;
    size_t R = (size_t)stats->n_rows;
    double *frequency = realloc(stats->reservoir_frequency, (size_t)capacity * sizeof *frequency);
    if (frequency == NULL) return false;
    stats->reservoir_frequency = frequency;
    float *ranks = realloc(stats->reservoir_ranks, (size_t)capacity * R * sizeof *ranks);
    if (ranks == NULL) return false;
    stats->reservoir_ranks = ranks;
    stats->reservoir_capacity = capacity;
    return true;
}

loupe_status loupe_corpus_stats_create(int n_rows, int n_vocab, const loupe_corpus_stats_params *params,
                                       loupe_corpus_stats **stats_out, loupe_error *error) {
    *stats_out = NULL;
    error_clear(error);
    loupe_corpus_stats_params defaults = loupe_corpus_stats_default_params();
    if (params == NULL) params = &defaults;
    loupe_status status = validate(n_rows, n_vocab, params, error);
    if (status != LOUPE_OK) return status;
    loupe_corpus_stats *stats = calloc(1, sizeof *stats);
    if (stats == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for corpus statistics");
    stats->n_rows = n_rows;
    stats->n_vocab = n_vocab;
    stats->params = *params;
    stats->params.token_counts = NULL;
    stats->params.track_ids = NULL;
    stats->params.token_bytes = NULL;
    stats->random_state = params->seed;
    quantile_shape_init(&stats->shape, params->sketch_error, SKETCH_MIN_VALUE, SKETCH_MAX_VALUE,
                        params->exact_limit);
    size_t R = (size_t)n_rows;
    stats->summaries = malloc(R * METRICS * sizeof *stats->summaries);
    stats->top1_final = calloc(R, sizeof *stats->top1_final);
    stats->top1_target = calloc(R, sizeof *stats->top1_target);
    stats->decisions = calloc(R, sizeof *stats->decisions);
    bool ok = stats->summaries && stats->top1_final && stats->top1_target && stats->decisions;
    if (ok) init_summaries(stats->summaries, R * METRICS);
    if (ok && params->n_track > 0) {
        size_t N = (size_t)params->n_track;
        stats->tracked_summaries = malloc(N * R * TRACKED_METRICS * sizeof *stats->tracked_summaries);
        stats->tracked_top1 = calloc(N * R, sizeof *stats->tracked_top1);
        ok = stats->tracked_summaries && stats->tracked_top1;
        if (ok) {
            init_summaries(stats->tracked_summaries, N * R * TRACKED_METRICS);
            memcpy(stats->track_ids, params->track_ids, N * sizeof *stats->track_ids);
            stats->n_track = params->n_track;
        }
    }
    if (ok && params->token_bytes != NULL) {
        stats->token_bytes = malloc((size_t)n_vocab * sizeof *stats->token_bytes);
        ok = stats->token_bytes != NULL;
        if (ok) memcpy(stats->token_bytes, params->token_bytes, (size_t)n_vocab * sizeof *stats->token_bytes);
        stats->counts_bytes = true;
    }
    if (ok && params->token_counts != NULL) {
        stats->counts = malloc((size_t)n_vocab * sizeof *stats->counts);
        ok = stats->counts != NULL;
        if (ok) {
            memcpy(stats->counts, params->token_counts, (size_t)n_vocab * sizeof *stats->counts);
            status = make_buckets(stats, error);
            if (status != LOUPE_OK) {
                loupe_corpus_stats_free(stats);
                return status;
            }
            stats->counts_hash = corpus_stats_counts_hash(stats->counts, n_vocab);
            ok = corpus_stats_allocate_rarity(stats);
        }
    }
    if (!ok) {
        loupe_corpus_stats_free(stats);
        return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for corpus statistics");
    }
    *stats_out = stats;
    return LOUPE_OK;
}

void loupe_corpus_stats_free(loupe_corpus_stats *stats) {
    if (stats == NULL) return;
    if (stats->summaries != NULL)
        for (size_t i = 0; i < (size_t)stats->n_rows * METRICS; i++) quantile_summary_free(&stats->summaries[i]);
    if (stats->bucket_summaries != NULL)
        for (size_t i = 0; i < (size_t)stats->n_buckets * stats->n_rows * BUCKET_METRICS; i++)
            quantile_summary_free(&stats->bucket_summaries[i]);
    if (stats->tracked_summaries != NULL)
        for (size_t i = 0; i < (size_t)stats->n_track * stats->n_rows * TRACKED_METRICS; i++)
            quantile_summary_free(&stats->tracked_summaries[i]);
    free(stats->tracked_summaries);
    free(stats->tracked_top1);
    free(stats->summaries);
    free(stats->top1_final);
    free(stats->top1_target);
    free(stats->decisions);
    free(stats->counts);
    free(stats->token_bytes);
    free(stats->bucket_summaries);
    free(stats->reservoir_frequency);
    free(stats->reservoir_ranks);
    free(stats);
}

/* ------------------------------------------------------------------------
 * Adding positions
 * ---------------------------------------------------------------------- */

/* The frequency bucket of a count: the last edge at or below it. */
static int bucket_of_count(const loupe_corpus_stats *stats, int64_t count) {
    int bucket = 0;
    while (bucket + 1 < stats->n_buckets && (double)count >= stats->edges[bucket + 1]) bucket++;
    return bucket;
}

/* The value of a metric in one lens cell. */
static double metric_value(const loupe_lens_cell *cell, loupe_corpus_metric metric) {
    switch (metric) {
    case LOUPE_CORPUS_TARGET_RANK: return cell->target.rank;
    case LOUPE_CORPUS_TARGET_PROB: return cell->target.prob;
    case LOUPE_CORPUS_INPUT_RANK: return cell->input.rank;
    case LOUPE_CORPUS_INPUT_PROB: return cell->input.prob;
    case LOUPE_CORPUS_KL_FINAL: return cell->kl_final;
    case LOUPE_CORPUS_KL_FINAL_REV: return cell->kl_final_rev;
    case LOUPE_CORPUS_KL_FIRST: return cell->kl_first;
    case LOUPE_CORPUS_KL_FIRST_REV: return cell->kl_first_rev;
    case LOUPE_CORPUS_ENTROPY: return cell->entropy;
    case LOUPE_CORPUS_CE: /* saturated at FLT_MAX as the KLs are (a target of probability 0) */
        return -(double)cell->target.log_prob < FLT_MAX ? -(double)cell->target.log_prob : FLT_MAX;
    case LOUPE_CORPUS_METRIC_COUNT: break;
    }
    return NAN;
}

/* The reservoir slot for the next position (Algorithm R), -1 to skip it,
 * -2 when out of memory. */
static int reservoir_slot(loupe_corpus_stats *stats) {
    int64_t seen = stats->reservoir_seen++;
    if (stats->reservoir_count < stats->params.reservoir_size)
        return corpus_stats_reserve_reservoir(stats, stats->reservoir_count + 1) ? stats->reservoir_count++ : -2;
    uint64_t pick = next_random(&stats->random_state) % (uint64_t)(seen + 1);
    return pick < (uint64_t)stats->params.reservoir_size ? (int)pick : -1;
}

/* The rarity statistics of one position with input token `input`. */
static bool add_rarity(loupe_corpus_stats *stats, const loupe_lens_result *lens, int t, int32_t input) {
    int R = stats->n_rows;
    int bucket = bucket_of_count(stats, stats->counts[input]);
    int slot = reservoir_slot(stats);
    if (slot == -2) return false; /* out of memory */
    if (slot >= 0) stats->reservoir_frequency[slot] = (double)stats->counts[input];
    for (int row = 0; row < R; row++) {
        const loupe_lens_cell *cell = loupe_lens_cell_at(lens, row, t);
        quantile_summary *summaries = stats->bucket_summaries + ((size_t)bucket * R + row) * BUCKET_METRICS;
        for (int m = 0; m < BUCKET_METRICS; m++)
            if (!quantile_summary_add(&summaries[m], &stats->shape, metric_value(cell, bucket_metrics[m])))
                return false;
        if (slot >= 0) stats->reservoir_ranks[(size_t)slot * R + row] = (float)cell->input.rank;
    }
    return true;
}

/* The tracked tokens of one position, every row: false when out of memory. */
static bool add_tracked(loupe_corpus_stats *stats, const loupe_lens_result *lens, int t) {
    const int R = stats->n_rows;
    for (int row = 0; row < R; row++) {
        const loupe_lens_cell *cell = loupe_lens_cell_at(lens, row, t);
        for (int k = 0; k < stats->n_track; k++) {
            const loupe_lens_token *token = &cell->tracked[k];
            quantile_summary *summaries = stats->tracked_summaries + ((size_t)k * R + row) * TRACKED_METRICS;
            if (!quantile_summary_add(&summaries[LOUPE_CORPUS_TRACKED_RANK], &stats->shape, token->rank) ||
                !quantile_summary_add(&summaries[LOUPE_CORPUS_TRACKED_PROB], &stats->shape, token->prob))
                return false;
            stats->tracked_top1[(size_t)k * R + row] += token->rank == 1;
        }
    }
    return true;
}

/* True when every cell of the lens tracks the aggregate's tokens in order. */
static bool tracks_the_same(const loupe_corpus_stats *stats, const loupe_lens_result *lens) {
    const loupe_lens_cell *cell = loupe_lens_cell_at(lens, 0, 0);
    if (stats->n_track == 0) return true;
    if (cell->n_tracked < stats->n_track) return false;
    for (int k = 0; k < stats->n_track; k++)
        if (cell->tracked[k].id != stats->track_ids[k]) return false;
    return true;
}

loupe_status loupe_corpus_stats_add(loupe_corpus_stats *stats, const loupe_lens_result *lens, int begin,
                                    int end, loupe_error *error) {
    error_clear(error);
    int R = stats->n_rows, T = loupe_lens_n_positions(lens);
    if (loupe_lens_n_rows(lens) != R)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "a lens of %d rows added to corpus statistics of %d rows",
                         loupe_lens_n_rows(lens), R);
    if (begin < 0 || begin > end || end > T - 1)
        return error_set(error, LOUPE_ERROR_ARGUMENT,
                         "positions %d .. %d of a %d-token lens: only 0 .. %d have a next token", begin, end, T,
                         T - 2);
    if (stats->rarity && stats->counts == NULL)
        return error_set(error, LOUPE_ERROR_ARGUMENT,
                         "corpus statistics decoded without their token counts take no more positions");
    if (stats->counts_bytes && stats->token_bytes == NULL)
        return error_set(error, LOUPE_ERROR_ARGUMENT,
                         "corpus statistics decoded without their token byte lengths take no more positions");
    if (!tracks_the_same(stats, lens))
        return error_set(error, LOUPE_ERROR_ARGUMENT, "the lens does not track the aggregate's %d tokens (track_ids)",
                         stats->n_track);
    const int32_t *ids = loupe_lens_ids(lens);
    for (int t = begin; t < end; t++) {
        const loupe_lens_cell *final = loupe_lens_cell_at(lens, R - 1, t);
        if (final->n_top < 1 || final->target.id < 0 || final->target.id >= stats->n_vocab || ids[t] < 0 ||
            ids[t] >= stats->n_vocab)
            return error_set(error, LOUPE_ERROR_ARGUMENT, "position %d: no top-1, target or valid input id", t);
        int32_t final_top = final->top_ids[0], target = final->target.id;
        int decision = R - 1;
        bool agreeing = true; /* rows decision .. R-1 all have the final top-1 */
        for (int row = R - 1; row >= 0; row--) {
            const loupe_lens_cell *cell = loupe_lens_cell_at(lens, row, t);
            int32_t top = cell->n_top > 0 ? cell->top_ids[0] : -1;
            if (top == final_top) stats->top1_final[row]++;
            if (top == target) stats->top1_target[row]++;
            agreeing = agreeing && top == final_top;
            if (agreeing) decision = row;
            quantile_summary *summaries = stats->summaries + (size_t)row * METRICS;
            for (int m = 0; m < METRICS; m++)
                if (!quantile_summary_add(&summaries[m], &stats->shape,
                                          metric_value(cell, (loupe_corpus_metric)m)))
                    return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for corpus statistics");
        }
        stats->decisions[decision]++;
        if (stats->token_bytes != NULL) stats->target_bytes += stats->token_bytes[target];
        if ((stats->rarity && !add_rarity(stats, lens, t, ids[t])) ||
            (stats->n_track > 0 && !add_tracked(stats, lens, t)))
            return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for corpus statistics");
        stats->positions++;
    }
    return LOUPE_OK;
}

/* ------------------------------------------------------------------------
 * Reading the statistics
 * ---------------------------------------------------------------------- */

int64_t loupe_corpus_stats_positions(const loupe_corpus_stats *stats) { return stats->positions; }

int loupe_corpus_stats_n_rows(const loupe_corpus_stats *stats) { return stats->n_rows; }

/* Count, mean and the three quantiles of one series. */
static loupe_corpus_summary summarise(quantile_summary *summary, const quantile_shape *shape) {
    loupe_corpus_summary result = {
        .count = summary->count,
        .mean = quantile_summary_mean(summary),
        .p10 = quantile_summary_quantile(summary, shape, 0.1),
        .median = quantile_summary_quantile(summary, shape, 0.5),
        .p90 = quantile_summary_quantile(summary, shape, 0.9),
        .exact = quantile_summary_is_exact(summary),
    };
    return result;
}

static const loupe_corpus_summary empty_summary = {0, NAN, NAN, NAN, NAN, true};

/* The series of a metric at a row; NULL out of range. */
static quantile_summary *metric_summary(loupe_corpus_stats *stats, int row, loupe_corpus_metric metric) {
    if (row < 0 || row >= stats->n_rows || (int)metric < 0 || metric >= LOUPE_CORPUS_METRIC_COUNT) return NULL;
    return &stats->summaries[(size_t)row * METRICS + metric];
}

loupe_corpus_summary loupe_corpus_stats_summary(loupe_corpus_stats *stats, int row, loupe_corpus_metric metric) {
    quantile_summary *summary = metric_summary(stats, row, metric);
    return summary ? summarise(summary, &stats->shape) : empty_summary;
}

double loupe_corpus_stats_quantile(loupe_corpus_stats *stats, int row, loupe_corpus_metric metric, double q) {
    quantile_summary *summary = metric_summary(stats, row, metric);
    return summary ? quantile_summary_quantile(summary, &stats->shape, q) : NAN;
}

/* counts[row] / positions; NaN with no positions or out of range. */
static double fraction(const loupe_corpus_stats *stats, const int64_t *counts, int row) {
    if (row < 0 || row >= stats->n_rows || stats->positions == 0) return NAN;
    return (double)counts[row] / (double)stats->positions;
}

double loupe_corpus_stats_top1_final(const loupe_corpus_stats *stats, int row) {
    return fraction(stats, stats->top1_final, row);
}

double loupe_corpus_stats_top1_target(const loupe_corpus_stats *stats, int row) {
    return fraction(stats, stats->top1_target, row);
}

int64_t loupe_corpus_stats_decision_count(const loupe_corpus_stats *stats, int row) {
    if (row < 0 || row >= stats->n_rows) return 0;
    return stats->decisions[row];
}

int64_t loupe_corpus_stats_target_bytes(const loupe_corpus_stats *stats) { return stats->target_bytes; }

double loupe_corpus_stats_bits_per_byte(const loupe_corpus_stats *stats, int row) {
    if (row < 0 || row >= stats->n_rows || !stats->counts_bytes || stats->target_bytes == 0 ||
        stats->positions == 0)
        return NAN;
    const quantile_summary *ce = &stats->summaries[(size_t)row * METRICS + LOUPE_CORPUS_CE];
    return quantile_summary_mean(ce) * (double)stats->positions / (double)stats->target_bytes / log(2.0);
}

int loupe_corpus_stats_n_tracked(const loupe_corpus_stats *stats) { return stats->n_track; }

loupe_corpus_summary loupe_corpus_stats_tracked_summary(loupe_corpus_stats *stats, int track, int row,
                                                        loupe_corpus_tracked_metric metric) {
    if (track < 0 || track >= stats->n_track || row < 0 || row >= stats->n_rows || (int)metric < 0 ||
        (int)metric >= TRACKED_METRICS)
        return empty_summary;
    return summarise(&stats->tracked_summaries[((size_t)track * stats->n_rows + row) * TRACKED_METRICS + metric],
                     &stats->shape);
}

double loupe_corpus_stats_tracked_top1(const loupe_corpus_stats *stats, int track, int row) {
    if (track < 0 || track >= stats->n_track || row < 0 || row >= stats->n_rows || stats->positions == 0) return NAN;
    return (double)stats->tracked_top1[(size_t)track * stats->n_rows + row] / (double)stats->positions;
}

int loupe_corpus_stats_n_buckets(const loupe_corpus_stats *stats) { return stats->n_buckets; }

void loupe_corpus_stats_bucket_edges(const loupe_corpus_stats *stats, int bucket, double *low, double *high) {
    if (bucket < 0 || bucket >= stats->n_buckets) {
        *low = *high = NAN;
        return;
    }
    *low = stats->edges[bucket];
    *high = stats->edges[bucket + 1];
}

loupe_corpus_summary loupe_corpus_stats_bucket_summary(loupe_corpus_stats *stats, int bucket, int row,
                                                       loupe_corpus_metric metric) {
    if (bucket < 0 || bucket >= stats->n_buckets || row < 0 || row >= stats->n_rows) return empty_summary;
    for (int m = 0; m < BUCKET_METRICS; m++)
        if (bucket_metrics[m] == metric)
            return summarise(&stats->bucket_summaries[((size_t)bucket * stats->n_rows + row) * BUCKET_METRICS + m],
                             &stats->shape);
    return empty_summary;
}

loupe_corpus_correlation loupe_corpus_stats_spearman(const loupe_corpus_stats *stats, int row) {
    loupe_corpus_correlation result = {.n = stats->reservoir_count, .rho = NAN, .low = NAN, .high = NAN};
    if (!stats->rarity || row < 0 || row >= stats->n_rows || stats->reservoir_count < 4) return result;
    size_t n = (size_t)stats->reservoir_count;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    rank_entry *scratch = malloc(n * sizeof *scratch);
    if (x != NULL && y != NULL && scratch != NULL) {
        for (size_t i = 0; i < n; i++) {
            x[i] = stats->reservoir_frequency[i];
            y[i] = stats->reservoir_ranks[i * (size_t)stats->n_rows + (size_t)row];
        }
        double rho;
        if (spearman_rho(x, y, n, scratch, &rho) && spearman_interval(rho, n, 1.959963984540054, &result.low,
                                                                      &result.high)) {
            result.rho = rho;
            result.defined = true;
        }
    }
    free(x);
    free(y);
    free(scratch);
    return result;
}
