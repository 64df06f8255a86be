/*
 * sgemm_rate.c - the machine's sgemm FLOP rate with OpenBLAS on the shapes
 * of the logit lens, for bench/ to compare the whole lens run against.
 *
 * usage: sgemm_rate [M] [K] [N] [runs]
 * Times cblas_sgemm of out (M, N) = in (M, K) x weight (N, K)^T - the
 * unembedding's layout - and prints the median GFLOP/s over `runs` calls
 * (2 M K N flops each). Defaults: M 1024, K 768, N 50257 (GPT-2 small's
 * vocabulary), 5 runs. Threads: OpenBLAS's own setting
 * (OPENBLAS_NUM_THREADS / OMP_NUM_THREADS).
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "timing.h"

enum { RATE_MAX_RUNS = 101 };

/* Fills values (n) with small deterministic numbers. */
static void fill(float *values, size_t n, unsigned seed) {
    unsigned state = seed;
    for (size_t i = 0; i < n; i++) {
        state = state * 1664525u + 1013904223u;
        values[i] = (float)((int)(state >> 9) % 2001 - 1000) * 1e-4f;
    }
}

int main(int argc, char **argv) {
    long M = argc > 1 ? atol(argv[1]) : 1024, K = argc > 2 ? atol(argv[2]) : 768;
    long N = argc > 3 ? atol(argv[3]) : 50257;
    int runs = argc > 4 ? atoi(argv[4]) : 5;
    if (M < 1 || K < 1 || N < 1 || runs < 1 || runs > RATE_MAX_RUNS) {
        fprintf(stderr, "usage: sgemm_rate [M] [K] [N] [runs 1..%d]\n", RATE_MAX_RUNS);
        return 2;
    }
    float *in = malloc((size_t)M * K * sizeof *in), *weight = malloc((size_t)N * K * sizeof *weight);
    float *out = malloc((size_t)M * N * sizeof *out);
    if (in == NULL || weight == NULL || out == NULL) {
        fprintf(stderr, "sgemm_rate: out of memory\n");
        return 1;
    }
    fill(in, (size_t)M * K, 1);
    fill(weight, (size_t)N * K, 2);
    fill(out, (size_t)M * N, 3);
    double times[RATE_MAX_RUNS];
    for (int run = 0; run < runs; run++) {
        double start = seconds_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1.0f, in, (int)K,
                    weight, (int)K, 0.0f, out, (int)N);
        times[run] = seconds_now() - start;
    }
    qsort(times, (size_t)runs, sizeof times[0], compare_doubles);
    double median = times[runs / 2];
    printf("sgemm M=%ld K=%ld N=%ld: median %.4f s, %.1f GFLOP/s (checksum %g)\n", M, K, N, median,
           2.0 * M * K * N / median * 1e-9, (double)out[(size_t)(M / 2) * N + N / 2]);
    free(in);
    free(weight);
    free(out);
    return 0;
}
