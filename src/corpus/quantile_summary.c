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
    summary->capacity = 0;
    return true;
}

/* Neumaier's compensated sum: the mean stays accurate over billions of values. */
static void add_to_sum(quantile_summary *summary, double value) {
    double total = summary->sum + value;
    if (fabs(summary->sum) >= fabs(value)) summary->compensation += (summary->sum - total) + value;
    else summary->compensation += (value - total) + summary->sum;
    summary->sum = total;
}

/* Room for `needed` (<= exact_limit) kept values: grows the array
 * geometrically up to exact_limit. False when out of memory. */
static bool reserve_exact(quantile_summary *summary, const quantile_shape *shape, int64_t needed) {
    if (needed <= summary->capacity) return true;
    int64_t capacity = summary->capacity > 0 ? summary->capacity : 64;
    while (capacity < needed) capacity *= 2;
    if (capacity > shape->exact_limit) capacity = shape->exact_limit;
    float *grown = realloc(summary->exact, (size_t)capacity * sizeof *grown);
    if (grown == NULL) return false;
    summary->exact = grown;
    summary->capacity = capacity;
    return true;
}

bool quantile_summary_add(quantile_summary *summary, const quantile_shape *shape, double value) {
    if (isnan(value)) return true;
    if (summary->buckets == NULL) {
        if (summary->count < shape->exact_limit) {
            if (!reserve_exact(summary, shape, summary->count + 1)) return false;
            summary->exact[summary->count] = (float)value;
            summary->exact_sorted = false;
        } else {
            if (!switch_to_sketch(summary, shape)) return false;
            sketch_count(summary, shape, (float)value);
        }
    } else {
        sketch_count(summary, shape, (float)value); /* as the kept values are binned */
    }
    if (summary->count == 0 || value < summary->min) summary->min = value;
    if (summary->count == 0 || value > summary->max) summary->max = value;
    summary->count++;
    add_to_sum(summary, value);
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

bool quantile_summary_merge(quantile_summary *into, const quantile_summary *from, const quantile_shape *shape) {
    if (from->count == 0) return true;
    bool both_exact = into->buckets == NULL && from->buckets == NULL;
    if (both_exact && into->count + from->count <= shape->exact_limit) {
        if (!reserve_exact(into, shape, into->count + from->count)) return false;
        for (int64_t i = 0; i < from->count; i++) into->exact[into->count + i] = from->exact[i];
        into->exact_sorted = false;
    } else {
        if (into->buckets == NULL && !switch_to_sketch(into, shape)) return false;
        if (from->buckets == NULL) {
            for (int64_t i = 0; i < from->count; i++) sketch_count(into, shape, from->exact[i]);
        } else {
            for (int bucket = 0; bucket < shape->n_buckets; bucket++) into->buckets[bucket] += from->buckets[bucket];
            into->below_min += from->below_min;
        }
    }
    if (into->count == 0 || from->min < into->min) into->min = from->min;
    if (into->count == 0 || from->max > into->max) into->max = from->max;
    into->count += from->count;
    add_to_sum(into, from->sum);
    into->compensation += from->compensation;
    return true;
}

void quantile_summary_encode(const quantile_summary *summary, const quantile_shape *shape, byte_writer *writer) {
    byte_writer_i64(writer, summary->count);
    byte_writer_f64(writer, summary->sum);
    byte_writer_f64(writer, summary->compensation);
    byte_writer_f64(writer, summary->min);
    byte_writer_f64(writer, summary->max);
    byte_writer_u8(writer, summary->buckets != NULL);
    if (summary->buckets == NULL) {
        for (int64_t i = 0; i < summary->count; i++) byte_writer_f32(writer, summary->exact[i]);
        return;
    }
    uint32_t non_zero = 0;
    for (int bucket = 0; bucket < shape->n_buckets; bucket++) non_zero += summary->buckets[bucket] != 0;
    byte_writer_u64(writer, summary->below_min);
    byte_writer_u32(writer, non_zero);
    for (int bucket = 0; bucket < shape->n_buckets; bucket++)
        if (summary->buckets[bucket] != 0) {
            byte_writer_u32(writer, (uint32_t)bucket);
            byte_writer_u64(writer, summary->buckets[bucket]);
        }
}

const char *quantile_summary_decode(quantile_summary *summary, const quantile_shape *shape, byte_reader *reader) {
    int64_t count = byte_reader_i64(reader);
    double sum = byte_reader_f64(reader), compensation = byte_reader_f64(reader);
    double min = byte_reader_f64(reader), max = byte_reader_f64(reader);
    uint8_t sketched = byte_reader_u8(reader);
    if (reader->failed) return "truncated";
    if (count < 0 || sketched > 1) return "a negative count or an unknown series mode";
    if (count > 0 && !(min <= max)) return "min above max (or NaN)";
    summary->count = count;
    summary->sum = sum;
    summary->compensation = compensation;
    summary->min = min;
    summary->max = max;
    if (!sketched) {
        if (count > shape->exact_limit) return "more kept values than the exact limit";
        if ((size_t)count * 4 > byte_reader_left(reader)) return "truncated";
        if (count > 0) {
            if (!reserve_exact(summary, shape, count)) return "out of memory";
            summary->exact_sorted = false;
        }
        for (int64_t i = 0; i < count; i++) {
            float value = byte_reader_f32(reader);
            if (isnan(value) || value < (float)min || value > (float)max) return "a kept value outside [min, max] or NaN";
            summary->exact[i] = value;
        }
        return NULL;
    }
    if (count <= shape->exact_limit) return "a sketch of fewer values than the exact limit";
    summary->buckets = calloc((size_t)shape->n_buckets, sizeof *summary->buckets);
    if (summary->buckets == NULL) return "out of memory";
    summary->below_min = byte_reader_u64(reader);
    uint32_t non_zero = byte_reader_u32(reader);
    if (reader->failed) return "truncated";
    if (non_zero > (uint32_t)shape->n_buckets) return "more buckets than the sketch has";
    uint64_t total = summary->below_min;
    int previous = -1;
    for (uint32_t i = 0; i < non_zero; i++) {
        uint32_t bucket = byte_reader_u32(reader);
        uint64_t n = byte_reader_u64(reader);
        if (reader->failed) return "truncated";
        if ((int64_t)bucket <= previous || bucket >= (uint32_t)shape->n_buckets || n == 0)
            return "sketch buckets out of order, out of range or empty";
        previous = (int)bucket;
        summary->buckets[bucket] = n;
        if (n > UINT64_MAX - total) return "bucket counts do not add up to the count";
        total += n;
    }
    if (total != (uint64_t)count) return "bucket counts do not add up to the count";
    return NULL;
}
