/*
 * timing.h - the clock and the sort order the benchmark tools share.
 */
#ifndef LOUPE_TOOLS_TIMING_H
#define LOUPE_TOOLS_TIMING_H

#include <time.h>

/* Seconds on the monotonic clock. */
static inline double seconds_now(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;
}

/* Seconds of CPU time this process has used (all threads): on a busy
 * machine it counts only the work, not the waits for a core. */
static inline double cpu_seconds_now(void) {
    struct timespec now;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    return (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;
}

/* qsort order of doubles, ascending (for medians). */
static inline int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#endif
