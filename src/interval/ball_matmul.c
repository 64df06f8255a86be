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
    size_t bytes = 2 * in_entries * sizeof(float) + out_entries * (sizeof(double) + 2 * sizeof(float)) +
                   weight_entries * (sizeof(double) + 2 * sizeof(float));
    char *arena = malloc(bytes > 0 ? bytes : 1);
    if (arena == NULL) return -1;
    workspace->arena = arena;
    /* doubles first, so every double is aligned */
    workspace->out_mid = (double *)arena, arena += out_entries * sizeof(double);
    workspace->weight_values = (double *)arena, arena += weight_entries * sizeof(double);
    workspace->in_radius = (float *)arena, arena += in_entries * sizeof(float);
    workspace->in_float = (float *)arena, arena += in_entries * sizeof(float);
    workspace->out_radius = (float *)arena, arena += out_entries * sizeof(float);
    workspace->out_float = (float *)arena, arena += out_entries * sizeof(float);
    workspace->weight_magnitudes = (float *)arena, arena += weight_entries * sizeof(float);
    workspace->weight_floats = (float *)arena;
    workspace->capacity_in = in_entries;
    workspace->capacity_out = out_entries;
    workspace->capacity_weight = weight_entries;
    return 0;
}

void ball_matmul_workspace_free(ball_matmul_workspace *workspace) {
    free(workspace->arena);
    workspace->arena = NULL;
}

void ball_weight_prepare(ball_weight *prepared, const weight_view *weight, int K, int N, matmul_layout layout,
                         float *floats, double *values, float *magnitudes) {
    size_t n = (size_t)K * N;
    const float *direct = weight_view_f32(weight);
    if (direct == NULL) weight_view_to_f32(weight, 0, weight->rows, 0, weight->columns, floats, weight->columns);
    const float *w = direct != NULL ? direct : floats;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        values[i] = w[i];
        magnitudes[i] = fabsf(w[i]);
    }
    *prepared = (ball_weight){
        .floats = w, .values = values, .magnitudes = magnitudes, .K = K, .N = N, .layout = layout};
}

void ball_weight_prepare_in(ball_weight *prepared, const weight_view *weight, int K, int N, matmul_layout layout,
                            ball_matmul_workspace *workspace) {
    ball_weight_prepare(prepared, weight, K, N, layout, workspace->weight_floats, workspace->weight_values,
                        workspace->weight_magnitudes);
}

/* The input's balls are wide enough for the float midpoint GEMM when every
 * row's radii sum to more than this share of its midpoints' magnitudes. */
#define BALL_MATMUL_FLOAT_MIDPOINT_SHARE 0x1p-8

/* Output columns [n0, n1): both GEMMs, then midpoint and radius per entry. */
static void ball_matmul_columns(double *out_mid, float *out_rad, const double *in_mid, const ball_weight *w,
                                const float *bias, int M, double weight_radius, bool accumulate, bool float_midpoint,
                                ball_matmul_workspace *ws, int n0, int n1) {
    int K = w->K, N = w->N, width = n1 - n0;
    CBLAS_TRANSPOSE transpose = w->layout == MATMUL_WEIGHT_IN_OUT ? CblasNoTrans : CblasTrans;
    size_t offset = w->layout == MATMUL_WEIGHT_IN_OUT ? (size_t)n0 : (size_t)n0 * K;
    int ldw = w->layout == MATMUL_WEIGHT_IN_OUT ? N : K;
    if (float_midpoint) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, transpose, M, width, K, 1.0f, ws->in_float, K, w->floats + offset,
                    ldw, 0.0f, ws->out_float + n0, N);
        for (int m = 0; m < M; m++)
            for (int n = n0; n < n1; n++) ws->out_mid[(size_t)m * N + n] = ws->out_float[(size_t)m * N + n];
    } else {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, transpose, M, width, K, 1.0, in_mid, K, w->values + offset, ldw,
                    0.0, ws->out_mid + n0, N);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, transpose, M, width, K, 1.0f, ws->in_radius, K,
                w->magnitudes + offset, ldw, 0.0f, ws->out_radius + n0, N);
    /* exact radius product <= (computed + K eta) / (1 - gamma_K(float)); the
     * float midpoint GEMM may lose another K eta to underflow */
    double inflate = 1.0 / (1.0 - ball_gamma(K, BALL_FLOAT_UNIT));
    double underflow = (float_midpoint ? 2.0 : 1.0) * K * BALL_FLOAT_ETA;
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

/* True when every row of the input (M, K) has radii summing to more than
 * BALL_MATMUL_FLOAT_MIDPOINT_SHARE of its midpoints' magnitudes. */
static bool wide_rows(const double *in_mid, const float *in_rad, int M, int K) {
    if (in_rad == NULL) return false;
    for (int m = 0; m < M; m++) {
        double radii = 0.0, magnitudes = 0.0;
        for (int k = 0; k < K; k++) {
            radii += in_rad[(size_t)m * K + k];
            magnitudes += fabs(in_mid[(size_t)m * K + k]);
        }
        if (!(radii > BALL_MATMUL_FLOAT_MIDPOINT_SHARE * magnitudes)) return false;
    }
    return true;
}

void ball_matmul(double *out_mid, float *out_rad, const double *in_mid, const float *in_rad, const ball_weight *weight,
                 const float *bias, int M, double weight_radius, bool accumulate, ball_matmul_workspace *ws) {
    pthread_once(&blas_single_thread_once, blas_single_thread);
    int K = weight->K, N = weight->N;
    bool float_midpoint = wide_rows(in_mid, in_rad, M, K);
    /* the radius operand: (R + e) |mid| + (1 + R) rad (+ eta for the float
     * midpoints' underflow), rounded up; e is gamma_K(double) for the double
     * midpoint GEMM, 2^-24 (rounding the midpoints to float) plus
     * gamma_K(float) (1 + 2^-23) for the float one */
    double rad_factor = 1.0 + weight_radius, floor = float_midpoint ? 2.0 * BALL_FLOAT_ETA : 0.0;
#ifdef BALL_MATMUL_WITHOUT_ROUNDING_TERM
    /* only in the test that proves the containment tests catch a missing term */
    double mid_factor = weight_radius;
#else
    double mid_factor = weight_radius + (float_midpoint ? BALL_FLOAT_UNIT + ball_gamma(K, BALL_FLOAT_UNIT) * (1.0 + 0x1p-23)
                                                        : ball_gamma(K, BALL_DOUBLE_UNIT));
#endif
    size_t n_in = (size_t)M * K;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n_in; i++) {
        double r = in_rad != NULL ? (double)in_rad[i] : 0.0;
        ws->in_radius[i] = ball_radius_up(mid_factor * fabs(in_mid[i]) + rad_factor * r + floor);
        if (float_midpoint) ws->in_float[i] = (float)in_mid[i];
    }
    int panels = (N + BALL_PANEL_COLUMNS - 1) / BALL_PANEL_COLUMNS;
#pragma omp parallel for schedule(dynamic, 1) if (panels > 1 && !omp_in_parallel())
    for (int panel = 0; panel < panels; panel++) {
        int n0 = panel * BALL_PANEL_COLUMNS;
        int n1 = n0 + BALL_PANEL_COLUMNS < N ? n0 + BALL_PANEL_COLUMNS : N;
        ball_matmul_columns(out_mid, out_rad, in_mid, weight, bias, M, weight_radius, accumulate, float_midpoint, ws,
                            n0, n1);
    }
}
