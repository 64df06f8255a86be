/*
 * quantile_summary.c - see quantile_summary.h.
 */
#include "corpus/quantile_summary.h"

#include <math.h>
#include <stdlib.h>

bool quantile_shape_init(quantile_shape *shape, double alpha, double min_value, double max_value,
                         int exact_limit) {
    if (!(alpha > 0.0 && alpha <= 0.5) || !(min_value > 0.0 && min_value < max_value) || !isfinite(max_value) ||
        exact_limit < 0)
        return false;
    shape->alpha = alpha;
    shape->log_gamma = log((1.0 + alpha) / (1.0 - alpha));
    shape->min_value = min_value;
    shape->max_value = max_value;
    shape->offset = (int64_t)ceil(log(min_value) / shape->log_gamma);
    double span = ceil(log(max_value) / shape->log_gamma) - (double)shape->offset + 1.0;
    if (span > 1e7) return false; /* an absurdly fine sketch: refuse rather than allocate gigabytes */
    shape->n_buckets = (int)span;
    shape->exact_limit = exact_limit;
    return true;
}

void quantile_summary_init(quantile_summary *summary) {
    *summary = (quantile_summary){.exact_sorted = true};
}

void quantile_summary_free(quantile_summary *summary) {
    free(summary->exact);
    free(summary->buckets);
    quantile_summary_init(summary);
}

/* The sketch bucket of a value >= min_value, clamped to the last bucket. */
static int bucket_of(const quantile_shape *shape, double value) {
    double index = ceil(log(value) / shape->log_gamma) - (double)shape->offset;
    if (index < 0.0) return 0;
    if (index >= shape->n_buckets) return shape->n_buckets - 1;
    return (int)index;
}

/* The value a bucket reports: 2 gamma^i / (gamma + 1), i its absolute index. */
static double bucket_value(const quantile_shape *shape, int bucket) {
    double gamma = exp(shape->log_gamma);
    return 2.0 * exp((double)(bucket + shape->offset) * shape->log_gamma) / (gamma + 1.0);
}

/* Counts one value in the sketch. */
static void sketch_count(quantile_summary *summary, const quantile_shape *shape, double value) {
    if (value < shape->min_value) summary->below_min++;
    else summary->buckets[bucket_of(shape, value)]++;
}

/* Moves the kept values into a new sketch. */
static bool switch_to_sketch(quantile_summary *summary, const quantile_shape *shape) {
    summary->buckets = calloc((size_t)shape->n_buckets, sizeof *summary->buckets);
    if (summary->buckets == NULL) return false;
    for (int64_t i = 0; i < summary->count; i++) sketch_count(summary, shape, summary->exact[i]);
    free(summary->exact);
    summary->exact = NULL;
    return true;
}

bool quantile_summary_add(quantile_summary *summary, const quantile_shape *shape, double value) {
    if (isnan(value)) return true;
    if (summary->buckets == NULL) {
        if (summary->count < shape->exact_limit) {
            if (summary->exact == NULL) {
                summary->exact = malloc((size_t)shape->exact_limit * sizeof *summary->exact);
                if (summary->exact == NULL) return false;
            }
            summary->exact[summary->count] = (float)value;
            summary->exact_sorted = false;
        } else {
            if (!switch_to_sketch(summary, shape)) return false;
            sketch_count(summary, shape, value);
        }
    } else {
        sketch_count(summary, shape, value);
    }
    if (summary->count == 0 || value < summary->min) summary->min = value;
    if (summary->count == 0 || value > summary->max) summary->max = value;
    summary->count++;
    /* Neumaier's compensated sum: the mean stays accurate over billions of values */
    double total = summary->sum + value;
    if (fabs(summary->sum) >= fabs(value)) summary->compensation += (summary->sum - total) + value;
    else summary->compensation += (value - total) + summary->sum;
    summary->sum = total;
    return true;
}

double quantile_summary_mean(const quantile_summary *summary) {
    if (summary->count == 0) return NAN;
    return (summary->sum + summary->compensation) / (double)summary->count;
}

bool quantile_summary_is_exact(const quantile_summary *summary) { return summary->buckets == NULL; }

/* Ascending order of floats (no NaN is ever stored). */
static int compare_floats(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

double quantile_summary_quantile(quantile_summary *summary, const quantile_shape *shape, double q) {
    if (summary->count == 0 || !(q >= 0.0 && q <= 1.0)) return NAN;
    uint64_t k = (uint64_t)floor(q * (double)(summary->count - 1));
    if (summary->buckets == NULL) {
        if (!summary->exact_sorted) {
            qsort(summary->exact, (size_t)summary->count, sizeof *summary->exact, compare_floats);
            summary->exact_sorted = true;
        }
        return summary->exact[k];
    }
    uint64_t seen = summary->below_min;
    double value = bucket_value(shape, shape->n_buckets - 1); /* kept only if the counts were short */
    if (k < seen) {
        value = 0.0;
    } else {
        for (int bucket = 0; bucket < shape->n_buckets; bucket++) {
            seen += summary->buckets[bucket];
            if (k < seen) {
                value = bucket_value(shape, bucket);
                break;
            }
        }
    }
    /* the exact quantile lies in [min, max]: clamping never moves away from it */
    return value < summary->min ? summary->min : value > summary->max ? summary->max : value;
}
