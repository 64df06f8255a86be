/*
 * vocab_loss_rate.c - the speed of the vocabulary cross-entropy with its
 * gradients (src/train/vocab_loss.h) against the machine's sgemm rate,
 * measured in the same run.
 *
 * usage: vocab_loss_rate [N] [C] [V] [rounds] [block_rows panel_size]
 * Each round times, one after the other so both see the same load, one
 * cblas_sgemm of the logits' shape (M, V) = (M, C) x (V, C)^T, M = min(N,
 * 512) rows (a bounded output), with BLAS on OpenMP's thread count, and one vocab_loss_forward_backward of N rows with
 * the unembedding's gradient: three products of that shape (logits,
 * d_normed, d_unembedding) plus the exps. Prints the medians (wall clock and
 * CPU seconds), the GFLOP/s of each, and the ratio time(vocab loss) / (3 x
 * time(sgemm)): 1 means the loss runs at the sgemm rate. Defaults: N 2048,
 * C 192, V 50257 (gpt2-demo's final rows of a batch of 8 x 256), 5 rounds.
 * block_rows and panel_size: vocab_loss_workspace_create_sized's, to tune
 * them (default VOCAB_LOSS_BLOCK_ROWS and VOCAB_LOSS_PANEL). Threads: OMP_NUM_THREADS; OpenBLAS's kernels: OPENBLAS_CORETYPE.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels/matmul.h"
#include "kernels/parallel.h"
#include "timing.h"
#include "train/vocab_loss.h"

enum { RATE_MAX_ROUNDS = 101 };

/* Fills values (n) with small deterministic numbers in [-scale, scale]. */
static void fill(float *values, size_t n, unsigned seed, float scale) {
    unsigned state = seed;
    for (size_t i = 0; i < n; i++) {
        state = state * 1664525u + 1013904223u;
        values[i] = (float)((int)(state >> 9) % 2001 - 1000) * 1e-3f * scale;
    }
}

/* The median of values (n), sorting them. */
static double median_of(double *values, int n) {
    qsort(values, (size_t)n, sizeof values[0], compare_doubles);
    return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

int main(int argc, char **argv) {
    const long N = argc > 1 ? atol(argv[1]) : 2048, C = argc > 2 ? atol(argv[2]) : 192;
    const long V = argc > 3 ? atol(argv[3]) : 50257;
    const int rounds = argc > 4 ? atoi(argv[4]) : 5;
    const int block_rows = argc > 5 ? atoi(argv[5]) : VOCAB_LOSS_BLOCK_ROWS;
    const int panel_size = argc > 6 ? atoi(argv[6]) : VOCAB_LOSS_PANEL;
    if (N < 1 || C < 1 || V < 1 || N > 1000000 || C > 100000 || V > 10000000 || rounds < 1 ||
        rounds > RATE_MAX_ROUNDS || block_rows < 1 || panel_size < 1) {
        fprintf(stderr, "usage: vocab_loss_rate [N] [C] [V] [rounds 1..%d] [block_rows panel_size]\n",
                RATE_MAX_ROUNDS);
        return 2;
    }
    float *rows = malloc((size_t)N * C * sizeof(float)), *weights = malloc((size_t)N * sizeof(float));
    float *unembedding = malloc((size_t)V * C * sizeof(float)), *d_rows = malloc((size_t)N * C * sizeof(float));
    float *d_unembedding = calloc((size_t)V * C, sizeof(float));
    int32_t *targets = malloc((size_t)N * sizeof(int32_t));
    /* the sgemm's output (M, V), M = min(N, 512): a bounded part of the
     * logits, whose rate (per flop) stands for the whole product's */
    const long M = N < 512 ? N : 512;
    float *logits = malloc((size_t)M * V * sizeof(float));
    vocab_loss_workspace *workspace = vocab_loss_workspace_create_sized((int)N, (int)C, (int)V, block_rows, panel_size);
    if (!rows || !weights || !unembedding || !d_rows || !d_unembedding || !targets || !logits || !workspace) {
        fprintf(stderr, "vocab_loss_rate: out of memory\n");
        return 1;
    }
    /* LayerNorm-like rows (entries of about 1) against weights of about
     * 0.1: logits of a few units, as a trained model's */
    fill(rows, (size_t)N * C, 1, 1.7f);
    fill(unembedding, (size_t)V * C, 2, 0.17f);
    for (long n = 0; n < N; n++) targets[n] = (int32_t)((n * 7919) % V), weights[n] = 1.0f / (float)N;
    const int threads = parallel_max_threads();
    double sgemm_wall[RATE_MAX_ROUNDS], sgemm_cpu[RATE_MAX_ROUNDS], loss_wall[RATE_MAX_ROUNDS],
        loss_cpu[RATE_MAX_ROUNDS];
    double loss = 0.0;
    for (int round = 0; round < rounds; round++) {
        const int previous = matmul_set_threads(threads);
        double wall = seconds_now(), cpu = cpu_seconds_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)V, (int)C, 1.0f, rows, (int)C,
                    unembedding, (int)C, 0.0f, logits, (int)V);
        sgemm_wall[round] = seconds_now() - wall, sgemm_cpu[round] = cpu_seconds_now() - cpu;
        matmul_set_threads(previous);
        loupe_error error;
        wall = seconds_now(), cpu = cpu_seconds_now();
        if (vocab_loss_forward_backward(workspace, rows, targets, weights, (int)N, unembedding, (int)V, (int)C, &loss,
                                        NULL, d_rows, d_unembedding, &error) != LOUPE_OK) {
            fprintf(stderr, "vocab_loss_rate: %s\n", error.message);
            return 1;
        }
        loss_wall[round] = seconds_now() - wall, loss_cpu[round] = cpu_seconds_now() - cpu;
    }
    const double flops = 2.0 * N * C * V;
    /* the sgemm's times scaled from M rows to N */
    const double sw = median_of(sgemm_wall, rounds) * N / M, sc = median_of(sgemm_cpu, rounds) * N / M;
    const double lw = median_of(loss_wall, rounds), lc = median_of(loss_cpu, rounds);
    printf("vocab_loss N=%ld C=%ld V=%ld block %d panel %d, %d thread(s), %d rounds (median): sgemm (scaled to N rows) %.4f s "
           "wall %.4f s cpu (%.1f GFLOP/s); vocab loss %.4f s wall %.4f s cpu (%.1f GFLOP/s as 3 products); "
           "ratio to 3 sgemm: %.2f wall %.2f cpu (loss %.6f)\n",
           N, C, V, block_rows, panel_size, threads, rounds, sw, sc, flops / sw * 1e-9, lw, lc, 3.0 * flops / lw * 1e-9, lw / (3.0 * sw),
           lc / (3.0 * sc), loss);
    vocab_loss_workspace_free(workspace);
    free(rows), free(weights), free(unembedding), free(d_rows), free(d_unembedding), free(targets), free(logits);
    return 0;
}
