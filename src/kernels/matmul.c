/*
 * matmul.c - matmul on OpenBLAS, and its reference twin.
 */
#include "kernels/matmul.h"

#include <cblas.h>
#include <omp.h>
#include <pthread.h>
#include <stddef.h>

#include "kernels/parallel.h"

/* loupe runs its own threads (OpenMP) around and inside its GEMMs; a second
 * pool in BLAS would spin against them for the same cores. So BLAS computes
 * single-threaded and matmul shares the output columns among OpenMP threads,
 * in panels of a fixed width: each panel is the same BLAS call whatever the
 * thread count, so results do not depend on it. 128 columns cut GPT-2's
 * products (768, 2304 and 3072 columns) into even numbers of panels, so
 * two threads finish together; each panel packs the whole input again,
 * which costs a few per cent of the product. */
static pthread_once_t blas_single_thread_once = PTHREAD_ONCE_INIT;

static void blas_single_thread(void) { openblas_set_num_threads(1); }

/* out (M, N), rows ldo apart, = alpha x in (M, K) x weight (rows ldw apart,
 * laid out as layout) + beta x out: the one place that calls BLAS. */
static void sgemm(float *out, int ldo, const float *in, int ldi, const float *weight, int ldw, int M, int K, int N,
                  matmul_layout layout, float alpha, float beta) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, layout == MATMUL_WEIGHT_IN_OUT ? CblasNoTrans : CblasTrans, M, N, K,
                alpha, in, ldi, weight, ldw, beta, out, ldo);
}

/* Output columns [n0, n1) of out (M, N): the product with panel, the
 * weight's columns n0 .. n1-1 (rows ldw floats apart: (K, n1 - n0) for
 * MATMUL_WEIGHT_IN_OUT, (n1 - n0, K) for MATMUL_WEIGHT_OUT_IN), plus the
 * bias (N) when there is one, plus what out held when accumulating. */
static void sgemm_columns(float *out, const float *in, const float *panel, int ldw, const float *bias, int M,
                          int K, int N, matmul_layout layout, bool accumulate, int n0, int n1) {
    float beta = accumulate ? 1.0f : 0.0f;
    if (bias != NULL) {
        /* Seed the rows with the bias so sgemm adds the product with beta = 1. */
        for (int m = 0; m < M; m++) {
            float *row = out + (size_t)m * N;
            if (accumulate)
                for (int n = n0; n < n1; n++) row[n] += bias[n];
            else
                for (int n = n0; n < n1; n++) row[n] = bias[n];
        }
        beta = 1.0f;
    }
    sgemm(out + n0, N, in, K, panel, ldw, M, K, n1 - n0, layout, 1.0f, beta);
}

static int panel_count(int N) { return (N + MATMUL_PANEL_COLUMNS - 1) / MATMUL_PANEL_COLUMNS; }

static int panel_end(int n0, int N) { return n0 + MATMUL_PANEL_COLUMNS < N ? n0 + MATMUL_PANEL_COLUMNS : N; }

void matmul(float *out, const float *in, const float *weight, const float *bias, int M, int K,
            int N, matmul_layout layout, bool accumulate) {
    pthread_once(&blas_single_thread_once, blas_single_thread);
    int panels = panel_count(N);
#pragma omp parallel for schedule(dynamic, 1) \
    if (panels > 1 && !omp_in_parallel() && parallel_worth_products((size_t)M * K * N))
    for (int panel = 0; panel < panels; panel++) {
        int n0 = panel * MATMUL_PANEL_COLUMNS, n1 = panel_end(n0, N);
        if (layout == MATMUL_WEIGHT_IN_OUT)
            sgemm_columns(out, in, weight + n0, N, bias, M, K, N, layout, accumulate, n0, n1);
        else
            sgemm_columns(out, in, weight + (size_t)n0 * K, K, bias, M, K, N, layout, accumulate, n0, n1);
    }
}

size_t matmul_scratch_floats(int K) { return (size_t)K * MATMUL_PANEL_COLUMNS; }

void matmul_view(float *out, const float *in, const weight_view *weight, const float *bias, int M, int K, int N,
                 matmul_layout layout, bool accumulate, float *scratch) {
    const float *in_place = weight_view_f32(weight);
    if (in_place != NULL) {
        matmul(out, in, in_place, bias, M, K, N, layout, accumulate);
        return;
    }
    pthread_once(&blas_single_thread_once, blas_single_thread);
    int panels = panel_count(N);
    /* Inside a parallel region the loop runs on the calling thread alone, in
     * a team of one: it uses the first part of scratch. */
    bool nested = omp_in_parallel();
#pragma omp parallel for schedule(dynamic, 1) if (panels > 1 && !nested && parallel_worth_products((size_t)M * K * N))
    for (int panel = 0; panel < panels; panel++) {
        int n0 = panel * MATMUL_PANEL_COLUMNS, n1 = panel_end(n0, N), width = n1 - n0;
        float *converted = scratch + (nested ? 0 : (size_t)omp_get_thread_num()) * matmul_scratch_floats(K);
        if (layout == MATMUL_WEIGHT_IN_OUT) {
            weight_view_to_f32(weight, 0, K, n0, width, converted, width); /* (K, width) */
            sgemm_columns(out, in, converted, width, bias, M, K, N, layout, accumulate, n0, n1);
        } else {
            weight_view_to_f32(weight, n0, width, 0, K, converted, K); /* (width, K) */
            sgemm_columns(out, in, converted, K, bias, M, K, N, layout, accumulate, n0, n1);
        }
    }
}

void matmul_strided(float *out, int ldo, const float *in, int ldi, const float *weight, int ldw, int M, int K,
                    int N, matmul_layout layout, float scale) {
    pthread_once(&blas_single_thread_once, blas_single_thread);
    sgemm(out, ldo, in, ldi, weight, ldw, M, K, N, layout, scale, 0.0f);
}

void matmul_strided_add(float *out, int ldo, const float *in, int ldi, const float *weight, int ldw, int M, int K,
                        int N, matmul_layout layout, float scale) {
    pthread_once(&blas_single_thread_once, blas_single_thread);
    sgemm(out, ldo, in, ldi, weight, ldw, M, K, N, layout, scale, 1.0f);
}

int matmul_set_threads(int n_threads) {
    int previous = openblas_get_num_threads();
    openblas_set_num_threads(n_threads > 0 ? n_threads : 1);
    return previous;
}

/* out (M, N), rows ldo apart, = scale x in (M, K) x weight [+ bias (N)]
 * [+ out], summed in double: the arithmetic of both reference twins. */
static void reference_product(float *out, int ldo, const float *in, int ldi, const float *weight, int ldw,
                              const float *bias, int M, int K, int N, matmul_layout layout, double scale,
                              bool accumulate) {
    for (int m = 0; m < M; m++) {
        for (int n = 0; n < N; n++) {
            double sum = 0.0;
            for (int k = 0; k < K; k++) {
                float w = layout == MATMUL_WEIGHT_IN_OUT ? weight[(size_t)k * ldw + n] : weight[(size_t)n * ldw + k];
                sum += (double)in[(size_t)m * ldi + k] * w;
            }
            sum = sum * scale + (bias ? bias[n] : 0.0);
            float *target = &out[(size_t)m * ldo + n];
            *target = accumulate ? *target + (float)sum : (float)sum;
        }
    }
}

void matmul_reference(float *out, const float *in, const float *weight, const float *bias, int M,
                      int K, int N, matmul_layout layout, bool accumulate) {
    reference_product(out, N, in, K, weight, layout == MATMUL_WEIGHT_IN_OUT ? N : K, bias, M, K, N, layout, 1.0,
                      accumulate);
}

void matmul_strided_reference(float *out, int ldo, const float *in, int ldi, const float *weight, int ldw, int M,
                              int K, int N, matmul_layout layout, float scale) {
    reference_product(out, ldo, in, ldi, weight, ldw, NULL, M, K, N, layout, scale, false);
}
