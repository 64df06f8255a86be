/*
 * lens_rate.c - the whole logit lens (forward pass and every row's
 * projection and statistics) timed through the library on fixed
 * pseudo-random ids, so that any model folder can be timed without a
 * tokenizer (bench/lens_llama.sh times Llama-shaped vocabularies with it).
 *
 * usage: lens_rate MODEL_DIR [T] [runs]
 * Prints the median wall time of loupe_lens_run over `runs` calls (after one
 * untimed warm-up) and the lens's FLOP count: projections 2 R T C V, the
 * forward pass 2 T L (C (A + 2 G) + A C + m C I) with m = 3 for a gated MLP
 * (2 otherwise), causal attention 2 L T^2 A (A = H D, G = KV D).
 * Defaults: T 512, 3 runs.
 */
#include <stdio.h>
#include <stdlib.h>

#include "loupe.h"
#include "timing.h"

enum { LENS_RATE_MAX_RUNS = 101 };

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: lens_rate MODEL_DIR [T] [runs 1..%d]\n", LENS_RATE_MAX_RUNS);
        return 2;
    }
    int T = argc > 2 ? atoi(argv[2]) : 512, runs = argc > 3 ? atoi(argv[3]) : 3;
    if (T < 1 || runs < 1 || runs > LENS_RATE_MAX_RUNS) {
        fprintf(stderr, "usage: lens_rate MODEL_DIR [T] [runs 1..%d]\n", LENS_RATE_MAX_RUNS);
        return 2;
    }
    loupe_model *model = NULL;
    loupe_error error;
    if (loupe_model_open(argv[1], &model, &error) != LOUPE_OK) {
        fprintf(stderr, "lens_rate: %s\n", error.message);
        return 1;
    }
    loupe_model_info info;
    loupe_model_get_info(model, &info);
    if (T > info.n_ctx) T = info.n_ctx;
    int32_t *ids = malloc((size_t)T * sizeof *ids);
    unsigned state = 12345;
    for (int t = 0; t < T; t++) {
        state = state * 1664525u + 1013904223u;
        ids[t] = (int32_t)((state >> 8) % (unsigned)info.n_vocab);
    }
    double times[LENS_RATE_MAX_RUNS];
    for (int run = -1; run < runs; run++) {
        loupe_lens_result *result = NULL;
        double start = seconds_now();
        if (loupe_lens_run(model, ids, T, NULL, &result, &error) != LOUPE_OK) {
            fprintf(stderr, "lens_rate: %s\n", error.message);
            return 1;
        }
        if (run >= 0) times[run] = seconds_now() - start;
        loupe_lens_free(result);
    }
    qsort(times, (size_t)runs, sizeof times[0], compare_doubles);
    double L = info.n_layer, C = info.n_embd, V = info.n_vocab, I = info.n_inner, t = T;
    double A = (double)info.n_head * info.head_dim, G = (double)info.n_kv_head * info.head_dim;
    double gated = info.n_inner > 0 && info.activation[0] == 's' ? 3.0 : 2.0; /* silu: SwiGLU */
    double flops = 2 * (L + 1) * t * C * V + 2 * t * L * (C * (A + 2 * G) + A * C + gated * C * I) + 2 * L * t * t * A;
    double median = times[runs / 2];
    printf("%s: T %d, %.3f s, %.1f GFLOP, %.1f GFLOP/s\n", argv[1], T, median, flops / 1e9, flops / 1e9 / median);
    free(ids);
    loupe_model_close(model);
    return 0;
}
