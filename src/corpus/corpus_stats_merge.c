/*
 * corpus_stats_merge.c - loupe_corpus_stats_merge: the aggregate of two
 * parts of a corpus (see loupe.h). Every accumulator adds up; the reservoir
 * samples merge by a weighted draw without replacement (below).
 *
 * Shapes: R rows, S reservoir size, a and b the samples held by the two
 * aggregates, n_a and n_b the positions they were drawn from.
 */
#include <stdlib.h>
#include <string.h>

#include "corpus/corpus_stats_internal.h"
#include "util/error.h"

/* The first parameter in which two aggregates differ, as a message, or
 * LOUPE_OK when they can merge. */
static loupe_status check_compatible(const loupe_corpus_stats *a, const loupe_corpus_stats *b, loupe_error *error) {
    const char *what = NULL;
    if (a->n_rows != b->n_rows) what = "numbers of rows";
    else if (a->n_vocab != b->n_vocab) what = "vocabulary sizes";
    else if (a->params.exact_limit != b->params.exact_limit) what = "exact_limit";
    else if (a->params.sketch_error != b->params.sketch_error) what = "sketch_error";
    else if (a->params.reservoir_size != b->params.reservoir_size) what = "reservoir_size";
    else if (a->n_track != b->n_track || memcmp(a->track_ids, b->track_ids, (size_t)a->n_track * sizeof a->track_ids[0]))
        what = "tracked tokens";
    else if (a->rarity != b->rarity || (a->rarity && a->counts_hash != b->counts_hash)) what = "token counts";
    else if (a->rarity && (a->params.frequency_base != b->params.frequency_base || a->n_buckets != b->n_buckets ||
                           memcmp(a->edges, b->edges, (size_t)(a->n_buckets + 1) * sizeof a->edges[0])))
        what = "frequency buckets";
    else if (a->counts_bytes != b->counts_bytes) what = "token byte lengths (one counts the targets' bytes)";
    if (what == NULL) return LOUPE_OK;
    return error_set(error, LOUPE_ERROR_ARGUMENT, "corpus statistics with different %s cannot be merged", what);
}

/* Merges n series of `from` into those of `into`. */
static bool merge_series(quantile_summary *into, const quantile_summary *from, size_t n, const quantile_shape *shape) {
    for (size_t i = 0; i < n; i++)
        if (!quantile_summary_merge(&into[i], &from[i], shape)) return false;
    return true;
}

/* into[i] += from[i] for n counts. */
static void add_counts(int64_t *into, const int64_t *from, size_t n) {
    for (size_t i = 0; i < n; i++) into[i] += from[i];
}

/* A uniform draw in 0 .. n - 1 (n >= 1). */
static uint64_t draw_below(uint64_t *state, uint64_t n) { return next_random(state) % n; }

/* The reservoirs of into (a of n_a positions) and from (b of n_b) as one
 * uniform sample of min(S, n_a + n_b) of the n_a + n_b positions. When all
 * fit, both samples are kept whole (into's then from's). Otherwise each
 * slot is drawn without replacement from the union of the two populations:
 * from into's side with probability (n_a - taken_a) / (positions left), and
 * then one of into's sampled positions not yet taken, at random (a uniform
 * subset of a uniform sample is a uniform subset of the population; taken_a
 * never exceeds a = min(S, n_a)). The draws use a generator seeded by both
 * aggregates' states, so a merge is reproducible. */
static bool merge_reservoirs(loupe_corpus_stats *into, const loupe_corpus_stats *from) {
    int S = into->params.reservoir_size, a = into->reservoir_count, b = from->reservoir_count;
    size_t R = (size_t)into->n_rows;
    int64_t n_a = into->reservoir_seen, n_b = from->reservoir_seen;
    uint64_t state = into->random_state ^ (from->random_state * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull);
    if (n_a + n_b <= S) {
        if (!corpus_stats_reserve_reservoir(into, a + b)) return false;
        memcpy(into->reservoir_frequency + a, from->reservoir_frequency, (size_t)b * sizeof *from->reservoir_frequency);
        memcpy(into->reservoir_ranks + (size_t)a * R, from->reservoir_ranks, (size_t)b * R * sizeof *from->reservoir_ranks);
        into->reservoir_count = a + b;
        into->reservoir_seen = n_a + n_b;
        into->random_state = state;
        return true;
    }
    double *frequency = malloc((size_t)S * sizeof *frequency);
    float *ranks = malloc((size_t)S * R * sizeof *ranks);
    int *order_a = malloc(((size_t)a + 1) * sizeof *order_a), *order_b = malloc(((size_t)b + 1) * sizeof *order_b);
    bool ok = frequency && ranks && order_a && order_b;
    if (ok) {
        for (int i = 0; i < a; i++) order_a[i] = i;
        for (int i = 0; i < b; i++) order_b[i] = i;
        int taken_a = 0, taken_b = 0;
        for (int slot = 0; slot < S; slot++) {
            uint64_t left = (uint64_t)(n_a - taken_a) + (uint64_t)(n_b - taken_b);
            bool from_a = draw_below(&state, left) < (uint64_t)(n_a - taken_a);
            const loupe_corpus_stats *side = from_a ? into : from;
            int *order = from_a ? order_a : order_b, *taken = from_a ? &taken_a : &taken_b;
            int held = from_a ? a : b;
            int pick = *taken + (int)draw_below(&state, (uint64_t)(held - *taken)); /* partial Fisher-Yates */
            int chosen = order[pick];
            order[pick] = order[*taken];
            order[*taken] = chosen;
            (*taken)++;
            frequency[slot] = side->reservoir_frequency[chosen];
            memcpy(ranks + (size_t)slot * R, side->reservoir_ranks + (size_t)chosen * R, R * sizeof *ranks);
        }
        free(into->reservoir_frequency);
        free(into->reservoir_ranks);
        into->reservoir_frequency = frequency;
        into->reservoir_ranks = ranks;
        into->reservoir_capacity = S;
        into->reservoir_count = S;
        into->reservoir_seen = n_a + n_b;
        into->random_state = state;
    } else {
        free(frequency);
        free(ranks);
    }
    free(order_a);
    free(order_b);
    return ok;
}

loupe_status loupe_corpus_stats_merge(loupe_corpus_stats *into, const loupe_corpus_stats *from, loupe_error *error) {
    error_clear(error);
    loupe_status status = check_compatible(into, from, error);
    if (status != LOUPE_OK) return status;
    size_t R = (size_t)into->n_rows, N = (size_t)into->n_track, B = (size_t)into->n_buckets;
    bool ok = merge_series(into->summaries, from->summaries, R * METRICS, &into->shape) &&
              merge_series(into->tracked_summaries, from->tracked_summaries, N * R * TRACKED_METRICS, &into->shape);
    if (ok && into->rarity)
        ok = merge_series(into->bucket_summaries, from->bucket_summaries, B * R * BUCKET_METRICS, &into->shape) &&
             merge_reservoirs(into, from);
    if (!ok) return error_set(error, LOUPE_ERROR_MEMORY, "out of memory merging corpus statistics");
    add_counts(into->top1_final, from->top1_final, R);
    add_counts(into->top1_target, from->top1_target, R);
    add_counts(into->decisions, from->decisions, R);
    add_counts(into->tracked_top1, from->tracked_top1, N * R);
    into->positions += from->positions;
    into->target_bytes += from->target_bytes;
    return LOUPE_OK;
}
