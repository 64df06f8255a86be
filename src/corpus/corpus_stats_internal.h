/*
 * corpus_stats_internal.h - the layout of the corpus aggregate
 * (loupe_corpus_stats), shared by the files that build it (corpus_stats.c),
 * merge it (corpus_stats_merge.c) and encode it (corpus_stats_codec.c).
 *
 * Shapes: R rows, M metrics, B frequency buckets, S reservoir size, V vocab,
 * N tracked tokens.
 */
#ifndef LOUPE_CORPUS_STATS_INTERNAL_H
#define LOUPE_CORPUS_STATS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "corpus/quantile_summary.h"
#include "loupe.h"

enum { METRICS = LOUPE_CORPUS_METRIC_COUNT, BUCKET_METRICS = 3, MAX_BUCKETS = 64, TRACKED_METRICS = 2 };

/* Values below this are reported as 0 by the sketch; ranks up to this max
 * keep the relative bound (a vocabulary of 10^7 tokens). */
#define SKETCH_MIN_VALUE 1e-9
#define SKETCH_MAX_VALUE 1e7

static const loupe_corpus_metric bucket_metrics[BUCKET_METRICS] = {
    LOUPE_CORPUS_INPUT_RANK, LOUPE_CORPUS_INPUT_PROB, LOUPE_CORPUS_KL_FIRST};

struct loupe_corpus_stats {
    int n_rows;                  /* R */
    int n_vocab;                 /* V */
    loupe_corpus_stats_params params;
    quantile_shape shape;
    int64_t positions;
    quantile_summary *summaries; /* (R, M) */
    int64_t *top1_final;         /* (R) positions whose top-1 is the final top-1 */
    int64_t *top1_target;        /* (R) positions whose top-1 is the true next token */
    int64_t *decisions;          /* (R) decision-row histogram */
    /* rarity, only with token counts */
    bool rarity;                 /* the rarity statistics are kept */
    int64_t *counts;             /* (V), or NULL in an aggregate decoded without them (read and merge only) */
    uint64_t counts_hash;        /* corpus_stats_counts_hash of the counts */
    int n_buckets;               /* B */
    double edges[MAX_BUCKETS + 1]; /* (B + 1) bucket j is [edges[j], edges[j + 1]) */
    quantile_summary *bucket_summaries; /* (B, R, BUCKET_METRICS) */
    int64_t reservoir_seen;      /* positions offered to the reservoir */
    int reservoir_count;         /* min(seen, S) */
    int reservoir_capacity;      /* room in the two arrays below: grows up to S as positions come */
    double *reservoir_frequency; /* (capacity) */
    float *reservoir_ranks;      /* (capacity, R) input rank at every row */
    uint64_t random_state;
    /* tracked tokens */
    int n_track;                 /* N */
    int32_t track_ids[LOUPE_LENS_MAX_TRACK]; /* (N) */
    quantile_summary *tracked_summaries; /* (N, R, TRACKED_METRICS) rank, prob */
    int64_t *tracked_top1;       /* (N, R) positions where the token is the row's top-1 */
    /* bits per byte, only with token byte lengths */
    bool counts_bytes;           /* target_bytes is kept (made with token byte lengths) */
    int32_t *token_bytes;        /* (V), or NULL in an aggregate decoded without them (read and merge only) */
    int64_t target_bytes;        /* bytes of the targets of the positions added */
};

/* splitmix64: a fixed, seedable generator, so a run is reproducible. */
static inline uint64_t next_random(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The FNV-1a hash of counts (V) as little-endian int64s: what an encoded
 * aggregate records of its token counts. */
uint64_t corpus_stats_counts_hash(const int64_t *counts, int n_vocab);

/* Allocates the rarity statistics' series of an aggregate whose n_buckets
 * and edges are set; false when out of memory. */
bool corpus_stats_allocate_rarity(loupe_corpus_stats *stats);

/* Room for `needed` (<= S) reservoir entries; false when out of memory. */
bool corpus_stats_reserve_reservoir(loupe_corpus_stats *stats, int needed);

#endif
