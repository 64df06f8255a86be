/*
 * ball_matmul.c - Rump's midpoint-radius product over BLAS (see
 * ball_matmul.h for the bound).
 */
#include "interval/ball_matmul.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>

#include "interval/ball.h"

/* As matmul.c: BLAS single-threaded, output columns shared among OpenMP
 * threads in panels, so results do not depend on the thread count. */
enum { BALL_PANEL_COLUMNS = 128 };
static pthread_once_t blas_single_thread_once = PTHREAD_ONCE_INIT;

static void blas_single_thread(void) { matmul_set_threads(1); }

int ball_matmul_workspace_build(ball_matmul_workspace *workspace, size_t in_entries, size_t out_entries,
                                size_t weight_entries) {
    size_t bytes = in_entries * sizeof(float) + out_entries * (sizeof(double) + sizeof(float)) +
                   weight_entries * (sizeof(double) + sizeof(float));
    char *arena = malloc(bytes > 0 ? bytes : 1);
    if (arena == NULL) return -1;
    workspace->arena = arena;
    /* doubles first, so every double is aligned */
    workspace->out_mid = (double *)arena, arena += out_entries * sizeof(double);
    workspace->weight_values = (double *)arena, arena += weight_entries * sizeof(double);
    workspace->in_radius = (float *)arena, arena += in_entries * sizeof(float);
    workspace->out_radius = (float *)arena, arena += out_entries * sizeof(float);
    workspace->weight_magnitudes = (float *)arena;
    workspace->capacity_in = in_entries;
    workspace->capacity_out = out_entries;
    workspace->capacity_weight = weight_entries;
    return 0;
}

void ball_matmul_workspace_free(ball_matmul_workspace *workspace) {
    free(workspace->arena);
    workspace->arena = NULL;
}

void ball_weight_prepare(ball_weight *prepared, const float *weight, int K, int N, matmul_layout layout,
                         double *values, float *magnitudes) {
    size_t n = (size_t)K * N;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        values[i] = weight[i];
        magnitudes[i] = fabsf(weight[i]);
    }
    *prepared = (ball_weight){.values = values, .magnitudes = magnitudes, .K = K, .N = N, .layout = layout};
}

void ball_weight_prepare_in(ball_weight *prepared, const float *weight, int K, int N, matmul_layout layout,
                            ball_matmul_workspace *workspace) {
    ball_weight_prepare(prepared, weight, K, N, layout, workspace->weight_values, workspace->weight_magnitudes);
}

/* Output columns [n0, n1): both GEMMs, then midpoint and radius per entry. */
static void ball_matmul_columns(double *out_mid, float *out_rad, const double *in_mid, const ball_weight *w,
                                const float *bias, int M, double weight_radius, bool accumulate,
                                ball_matmul_workspace *ws, int n0, int n1) {
    int K = w->K, N = w->N, width = n1 - n0;
    CBLAS_TRANSPOSE transpose = w->layout == MATMUL_WEIGHT_IN_OUT ? CblasNoTrans : CblasTrans;
    size_t offset = w->layout == MATMUL_WEIGHT_IN_OUT ? (size_t)n0 : (size_t)n0 * K;
    int ldw = w->layout == MATMUL_WEIGHT_IN_OUT ? N : K;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, transpose, M, width, K, 1.0, in_mid, K, w->values + offset, ldw,
                0.0, ws->out_mid + n0, N);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, transpose, M, width, K, 1.0f, ws->in_radius, K,
                w->magnitudes + offset, ldw, 0.0f, ws->out_radius + n0, N);
    /* exact radius product <= (computed + K eta) / (1 - gamma_K(float)) */
    double inflate = 1.0 / (1.0 - ball_gamma(K, BALL_FLOAT_UNIT));
    double underflow = (double)K * BALL_FLOAT_ETA;
    for (int m = 0; m < M; m++)
        for (int n = n0; n < n1; n++) {
            size_t at = (size_t)m * N + n;
            double product = ws->out_mid[at];
            double b = bias != NULL ? (double)bias[n] : 0.0;
            double old_mid = accumulate ? out_mid[at] : 0.0;
            double old_rad = accumulate ? (double)out_rad[at] : 0.0;
            double mid = product + b + old_mid;
            /* two roundings of the sum: at most 2^-52 (|product| + |b| + |old|) */
            double sum_error = 0x1p-51 * (fabs(product) + fabs(b) + fabs(old_mid));
            double rad = ((double)ws->out_radius[at] + underflow) * inflate + weight_radius * fabs(b) + sum_error +
                         old_rad;
            ball_set(mid, rad, &out_mid[at], &out_rad[at]);
        }
}

void ball_matmul(double *out_mid, float *out_rad, const double *in_mid, const float *in_rad, const ball_weight *weight,
                 const float *bias, int M, double weight_radius, bool accumulate, ball_matmul_workspace *ws) {
    pthread_once(&blas_single_thread_once, blas_single_thread);
    int K = weight->K, N = weight->N;
    size_t n_in = (size_t)M * K;
    /* the radius operand: (R + gamma_K(double)) |mid| + (1 + R) rad, rounded up */
    double rad_factor = 1.0 + weight_radius;
#ifdef BALL_MATMUL_WITHOUT_ROUNDING_TERM
    /* only in the test that proves the containment tests catch a missing term */
    double mid_factor = weight_radius;
#else
    double mid_factor = weight_radius + ball_gamma(K, BALL_DOUBLE_UNIT);
#endif
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n_in; i++) {
        double r = in_rad != NULL ? (double)in_rad[i] : 0.0;
        ws->in_radius[i] = ball_radius_up(mid_factor * fabs(in_mid[i]) + rad_factor * r);
    }
    int panels = (N + BALL_PANEL_COLUMNS - 1) / BALL_PANEL_COLUMNS;
#pragma omp parallel for schedule(dynamic, 1) if (panels > 1 && !omp_in_parallel())
    for (int panel = 0; panel < panels; panel++) {
        int n0 = panel * BALL_PANEL_COLUMNS;
        int n1 = n0 + BALL_PANEL_COLUMNS < N ? n0 + BALL_PANEL_COLUMNS : N;
        ball_matmul_columns(out_mid, out_rad, in_mid, weight, bias, M, weight_radius, accumulate, ws, n0, n1);
    }
}
