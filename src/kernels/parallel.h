/*
 * parallel.h - when a kernel's loop is worth a team of OpenMP threads.
 *
 * Forking and joining a team costs microseconds on an idle machine and far
 * more on a busy one (a thread of the team may wait for a core), while a
 * single-token step of generation gives each kernel only a row or two. So
 * a loop of less work than this runs on the calling thread. The split of
 * every kernel is fixed, not derived from the thread count, so this changes
 * no result.
 */
#ifndef LOUPE_KERNELS_PARALLEL_H
#define LOUPE_KERNELS_PARALLEL_H

#include <stddef.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* Below these a loop stays on one thread: elements of an elementwise or
 * row-wise loop, and multiply-adds of a product (vectorised, some twenty
 * times cheaper each). */
enum { PARALLEL_MIN_ELEMENTS = 1 << 16, PARALLEL_MIN_MULTIPLY_ADDS = 1 << 21 };

/* Whether a loop over `elements` elements is worth a team. */
static inline int parallel_worth(size_t elements) { return elements >= PARALLEL_MIN_ELEMENTS; }

/* Whether a product of `multiply_adds` multiply-adds is worth a team. */
static inline int parallel_worth_products(size_t multiply_adds) { return multiply_adds >= PARALLEL_MIN_MULTIPLY_ADDS; }

/* The most threads a parallel region may have (1 without OpenMP). */
static inline int parallel_max_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* The calling thread's index in its team, 0 .. parallel_max_threads() - 1
 * (0 without OpenMP, or outside a parallel region). */
static inline int parallel_thread_index(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

#endif
