/*
 * rank_correlation.h - Spearman's rank correlation with ties (mid-ranks) and
 * its Fisher-z confidence interval.
 */
#ifndef LOUPE_CORPUS_RANK_CORRELATION_H
#define LOUPE_CORPUS_RANK_CORRELATION_H

#include <stdbool.h>
#include <stddef.h>

/* Scratch space for ranking: one entry per value. */
typedef struct rank_entry {
    double value;
    size_t index;
} rank_entry;

/* Replaces values (n) by their ranks 1 .. n in ascending order, tied values
 * sharing the mean of their ranks. scratch (n) is working space. Returns
 * false when n is 0. */
bool rank_transform(double *values, size_t n, rank_entry *scratch);

/* Spearman's rho of x (n) and y (n): Pearson's correlation of their
 * mid-ranks. x and y are replaced by their ranks; scratch (n) is working space.
 * Returns false (rho unset) when n < 2 or either variable is constant. */
bool spearman_rho(double *x, double *y, size_t n, rank_entry *scratch, double *rho);

/* The two-sided confidence interval for a Spearman rho from n independent
 * pairs at the normal quantile z_critical (1.96 for 95 %): the Fisher
 * transform atanh(rho) +- z_critical * sqrt(1.06 / (n - 3)) (Fieller,
 * Hartley and Pearson, 1957), mapped back with tanh. Needs n >= 4. */
bool spearman_interval(double rho, size_t n, double z_critical, double *low, double *high);

#endif
