/*
 * lens_stats_speed.c - times the lens row kernel against its reference twin
 * on GPT-2-sized rows (V = 50257).
 *
 * Usage: lens_stats_speed [runs] [topk]
 * Prints, for each version, the median over `runs` runs of the time per
 * row divided by V (ns per vocabulary entry), and the whole-row time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "lens/lens_stats.h"
#include "timing.h"

enum { SPEED_VOCAB = 50257, SPEED_ROWS = 16, SPEED_MAX_RUNS = 101 };

typedef void (*row_kernel)(const lens_row_request *request, int n_vocab, lens_row_stats *out);

/* A fixed-seed linear congruential generator: the same rows every run. */
static float next_logit(uint64_t *state, float low, float high) {
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return low + (high - low) * (float)((double)(*state >> 11) / 9007199254740992.0);
}

/* The median, over runs, of the ns per vocabulary entry that kernel spends
 * on each of the requests (SPEED_ROWS); *checksum collects outputs so the
 * work cannot be dropped. */
static double median_ns_per_entry(row_kernel kernel, const lens_row_request *requests, int runs,
                                  double *checksum) {
    double samples[SPEED_MAX_RUNS];
    lens_row_stats stats;
    for (int run = 0; run < runs; run++) {
        double start = seconds_now();
        for (int row = 0; row < SPEED_ROWS; row++) {
            kernel(&requests[row], SPEED_VOCAB, &stats);
            *checksum += stats.kl_final + stats.entropy + stats.target.rank;
        }
        samples[run] = (seconds_now() - start) * 1e9 / ((double)SPEED_ROWS * SPEED_VOCAB);
    }
    qsort(samples, (size_t)runs, sizeof samples[0], compare_doubles);
    return samples[runs / 2];
}

int main(int argc, char **argv) {
    int runs = argc > 1 ? atoi(argv[1]) : 9;
    int topk = argc > 2 ? atoi(argv[2]) : 5;
    if (runs < 1 || runs > SPEED_MAX_RUNS || topk < 1 || topk > LOUPE_LENS_MAX_TOPK) {
        fprintf(stderr, "usage: lens_stats_speed [runs 1..%d] [topk 1..%d]\n", SPEED_MAX_RUNS,
                LOUPE_LENS_MAX_TOPK);
        return 2;
    }
    size_t row_bytes = (size_t)SPEED_VOCAB * sizeof(float);
    float *logits = malloc(row_bytes * SPEED_ROWS);
    float *reference_logits = malloc(row_bytes * 2);
    float *reference_arrays = malloc(row_bytes * 4);
    lens_row_request *requests = malloc(sizeof(lens_row_request) * SPEED_ROWS);
    if (!logits || !reference_logits || !reference_arrays || !requests) {
        fprintf(stderr, "lens_stats_speed: out of memory\n");
        return 1;
    }
    uint64_t state = 42;
    for (size_t i = 0; i < (size_t)SPEED_VOCAB * SPEED_ROWS; i++)
        logits[i] = next_logit(&state, -20.0f, 10.0f);
    for (size_t i = 0; i < (size_t)SPEED_VOCAB * 2; i++)
        reference_logits[i] = next_logit(&state, -120.0f, -60.0f);
    lens_reference final = lens_reference_compute(reference_logits, SPEED_VOCAB, reference_arrays,
                                                  reference_arrays + SPEED_VOCAB);
    lens_reference first =
        lens_reference_compute(reference_logits + SPEED_VOCAB, SPEED_VOCAB,
                               reference_arrays + 2 * SPEED_VOCAB, reference_arrays + 3 * SPEED_VOCAB);
    for (int row = 0; row < SPEED_ROWS; row++) {
        lens_row_request request = {logits + (size_t)row * SPEED_VOCAB, final, first,
                                    (int32_t)(row * 3001 % SPEED_VOCAB),
                                    (int32_t)(row * 7919 % SPEED_VOCAB), 464, topk};
        requests[row] = request;
    }

    double checksum = 0.0;
    double fast = median_ns_per_entry(lens_row_compute, requests, runs, &checksum);
    double reference = median_ns_per_entry(lens_row_compute_reference, requests, runs, &checksum);
    double softmax_samples[SPEED_MAX_RUNS];
    for (int run = 0; run < runs; run++) {
        double start = seconds_now();
        lens_log_softmax(logits + (size_t)(run % SPEED_ROWS) * SPEED_VOCAB, SPEED_VOCAB,
                         reference_arrays, reference_arrays + SPEED_VOCAB);
        softmax_samples[run] = (seconds_now() - start) * 1e9 / SPEED_VOCAB;
    }
    qsort(softmax_samples, (size_t)runs, sizeof softmax_samples[0], compare_doubles);

    printf("V = %d, topk = %d, median of %d runs of %d rows\n", SPEED_VOCAB, topk, runs,
           SPEED_ROWS);
    printf("lens_row_compute            %7.2f ns/entry  %8.1f us/row\n", fast,
           fast * SPEED_VOCAB / 1e3);
    printf("lens_row_compute_reference  %7.2f ns/entry  %8.1f us/row  (%.1fx the fast kernel)\n",
           reference, reference * SPEED_VOCAB / 1e3, reference / fast);
    printf("lens_log_softmax (per reference row, once per position) %7.2f ns/entry\n",
           softmax_samples[runs / 2]);
    printf("(checksum %g)\n", checksum);
    free(logits);
    free(reference_logits);
    free(reference_arrays);
    free(requests);
    return 0;
}
