/*
 * quantile_summary.h - the running summary of one stream of values: count,
 * mean, and quantiles that are exact while the stream is short and come from
 * a relative-error sketch once it is long, in memory bounded whatever the
 * length.
 *
 * Quantile definition (both modes): the q-quantile of n values is the lower
 * order statistic x_(k), k = floor(q (n - 1)) counted from 0 in ascending
 * order (numpy's method="lower").
 *
 * The sketch (used after `exact_limit` values) is a fixed log-spaced
 * histogram: bucket i holds the values in (gamma^(i-1), gamma^i], with
 * gamma = (1 + alpha) / (1 - alpha), and reports 2 gamma^i / (gamma + 1).
 * For a value v in [min_value, max_value] that representative is within
 * alpha * v of v, so the reported q-quantile is within relative error alpha
 * of the exact x_(k). Values below min_value (zeros included) are counted in
 * one bucket reported as 0 (absolute error below min_value); values above
 * max_value share the last bucket (no bound there). A sketched quantile is
 * also clamped to the smallest and largest value seen, which can only bring
 * it closer (rank 1 reads 1, not 0.99). NaN values are ignored. The sketch
 * bins every value as the float the exact mode keeps, so a value lands in the
 * same bucket whether it was kept exactly first or came later: merging
 * summaries (quantile_summary_merge) then gives exactly the summary of one
 * stream of all the values, whatever the order.
 */
#ifndef LOUPE_CORPUS_QUANTILE_SUMMARY_H
#define LOUPE_CORPUS_QUANTILE_SUMMARY_H

#include <stdbool.h>
#include <stdint.h>

#include "../util/byte_buffer.h" /* relative: the command reaches this header through loupe_internal.h */

/* The sketch's bucket layout, shared by every summary of an aggregate. */
typedef struct quantile_shape {
    double alpha;      /* relative error bound */
    double log_gamma;  /* log((1 + alpha) / (1 - alpha)) */
    double min_value;  /* smallest value with the relative bound */
    double max_value;  /* largest value with the relative bound */
    int64_t offset;    /* bucket index of min_value: ceil(log(min_value) / log_gamma) */
    int n_buckets;     /* buckets from min_value to max_value */
    int exact_limit;   /* values kept exactly before switching to the sketch */
} quantile_shape;

typedef struct quantile_summary {
    int64_t count;       /* values added (NaN excluded) */
    double sum;          /* Neumaier-compensated sum and its compensation */
    double compensation;
    double min, max;     /* of the values added */
    float *exact;        /* (capacity) values while count <= exact_limit; NULL after */
    int64_t capacity;    /* room in exact: grows up to exact_limit as values come */
    bool exact_sorted;
    uint64_t *buckets;   /* (n_buckets) sketch counts; NULL while exact */
    uint64_t below_min;  /* sketch: values below min_value */
} quantile_summary;

/* Fills *shape; false when alpha is not in (0, 0.5], the range is not
 * 0 < min_value < max_value, or exact_limit is negative. */
bool quantile_shape_init(quantile_shape *shape, double alpha, double min_value, double max_value,
                         int exact_limit);

/* An empty summary; nothing allocated until the first value. */
void quantile_summary_init(quantile_summary *summary);
void quantile_summary_free(quantile_summary *summary);

/* Adds one value. Returns false (the summary unchanged) when out of memory. */
bool quantile_summary_add(quantile_summary *summary, const quantile_shape *shape, double value);

/* The mean of the values added; NaN when there are none. */
double quantile_summary_mean(const quantile_summary *summary);

/* True while every value is kept (quantiles exact). */
bool quantile_summary_is_exact(const quantile_summary *summary);

/* The q-quantile (q in [0, 1]) as defined above; NaN when empty. Sorts the
 * exact values in place the first time after an addition. */
double quantile_summary_quantile(quantile_summary *summary, const quantile_shape *shape, double q);

/* Adds every value of `from` to `into` (both of `shape`): the counts,
 * extremes, kept values or sketch counts become those of one summary fed
 * both streams (the compensated sums added, so the mean agrees to rounding).
 * Both exact and together within exact_limit: the values are kept; else
 * both are sketched and their buckets added. Returns false (into unchanged
 * unless it had to switch to its sketch) when out of memory. */
bool quantile_summary_merge(quantile_summary *into, const quantile_summary *from, const quantile_shape *shape);

/* Appends the summary to writer (docs/SCALE.md, "series"): count, sum,
 * compensation, min, max, then the kept floats or the sketch's non-zero
 * buckets. */
void quantile_summary_encode(const quantile_summary *summary, const quantile_shape *shape, byte_writer *writer);

/* Reads what quantile_summary_encode wrote into an empty *summary (free it
 * with quantile_summary_free whatever the result). Returns NULL, or a
 * static phrase saying what is wrong ("truncated", "bucket counts do not add
 * up to the count", ...). */
const char *quantile_summary_decode(quantile_summary *summary, const quantile_shape *shape, byte_reader *reader);

#endif
