/*
 * rank_correlation.c - see rank_correlation.h.
 */
#include "corpus/rank_correlation.h"

#include <math.h>
#include <stdlib.h>

/* Ascending by value, then by index. */
static int compare_entries(const void *a, const void *b) {
    const rank_entry *x = a, *y = b;
    if (x->value < y->value) return -1;
    if (x->value > y->value) return 1;
    return (x->index > y->index) - (x->index < y->index); /* a total order: the result never depends on qsort */
}

bool rank_transform(double *values, size_t n, rank_entry *scratch) {
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++) scratch[i] = (rank_entry){values[i], i};
    qsort(scratch, n, sizeof *scratch, compare_entries);
    /* walk runs of equal values; each gets the mean of positions first+1 .. last+1 */
    size_t first = 0;
    while (first < n) {
        size_t last = first;
        while (last + 1 < n && scratch[last + 1].value == scratch[first].value) last++;
        double mid_rank = 0.5 * (double)(first + last) + 1.0;
        for (size_t i = first; i <= last; i++) values[scratch[i].index] = mid_rank;
        first = last + 1;
    }
    return true;
}

bool spearman_rho(double *x, double *y, size_t n, rank_entry *scratch, double *rho) {
    if (n < 2) return false;
    rank_transform(x, n, scratch);
    rank_transform(y, n, scratch);
    double mean = 0.5 * (double)(n + 1); /* mid-ranks always average to (n + 1) / 2 */
    double sxy = 0.0, sxx = 0.0, syy = 0.0;
    for (size_t i = 0; i < n; i++) {
        double dx = x[i] - mean, dy = y[i] - mean;
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if (sxx <= 0.0 || syy <= 0.0) return false;
    double value = sxy / sqrt(sxx * syy);
    *rho = value > 1.0 ? 1.0 : value < -1.0 ? -1.0 : value;
    return true;
}

bool spearman_interval(double rho, size_t n, double z_critical, double *low, double *high) {
    if (n < 4 || !(rho >= -1.0 && rho <= 1.0)) return false;
    if (fabs(rho) == 1.0) {
        *low = *high = rho;
        return true;
    }
    double z = atanh(rho), half_width = z_critical * sqrt(1.06 / (double)(n - 3));
    *low = tanh(z - half_width);
    *high = tanh(z + half_width);
    return true;
}
