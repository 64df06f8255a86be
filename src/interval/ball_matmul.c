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
    size_t bytes = in_entries * (sizeof(double) + 2 * sizeof(float)) +
                   out_entries * (sizeof(double) + 2 * sizeof(float)) +
                   weight_entries * (sizeof(double) + 2 * sizeof(float));
    /* the row plan: M <= in_entries rows */
    size_t row_entries = in_entries > 0 ? in_entries : 1;
    int *row_plan = malloc(3 * row_entries * sizeof(int));
    /* the bias of products without one: N <= out_entries columns */
    float *zeros = calloc(out_entries > 0 ? out_entries : 1, sizeof(float));
    char *arena = malloc(bytes > 0 ? bytes : 1);
    if (arena == NULL || row_plan == NULL || zeros == NULL) {
        free(arena);
        free(row_plan);
        free(zeros);
        return -1;
    }
    workspace->arena = arena;
    workspace->row_plan = row_plan;
    workspace->zeros = zeros;
    /* doubles first, so every double is aligned */
    workspace->out_mid = (double *)arena, arena += out_entries * sizeof(double);
    workspace->weight_values = (double *)arena, arena += weight_entries * sizeof(double);
    workspace->in_double = (double *)arena, arena += in_entries * sizeof(double);
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
    free(workspace->row_plan);
    free(workspace->zeros);
    workspace->arena = NULL;
    workspace->row_plan = NULL;
    workspace->zeros = NULL;
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

/* An input row is wide enough for the float midpoint GEMM when its radii
 * sum to more than this share of its midpoints' magnitudes. */
#define BALL_MATMUL_FLOAT_MIDPOINT_SHARE 0x1p-8

/* Float midpoints are used only for rows whose midpoints stay below this
 * magnitude, so that their float products do not overflow. */
#define BALL_MATMUL_FLOAT_MIDPOINT_LIMIT 0x1p60

/* How each input row is multiplied. A bounded row's midpoints go through
 * the double GEMM (narrow rows, and rows too large for float) or the float
 * GEMM, its radius operand through the radius GEMM. An unbounded row (an
 * infinite radius somewhere: nothing is known of its outputs) goes through
 * neither: its outputs get the midpoint 0 (plus bias and accumulated
 * value) and an infinite radius. Each GEMM takes its rows gathered:
 * mid_slot[m] is row m's place among the double or the float rows (-1 for
 * an unbounded row), radius_slot[m] its place among the bounded rows. */
typedef struct row_plan {
    int *double_midpoint; /* (M) 1 or 0 */
    int *mid_slot;        /* (M) or -1 */
    int *radius_slot;     /* (M) or -1 */
    int doubles, floats, bounded, M;
} row_plan;

static void plan_row(row_plan *plan, int m, const double *mid, const float *rad, int K) {
    double radii = 0.0, magnitudes = 0.0, largest = 0.0;
    for (int k = 0; k < K; k++) {
        radii += rad != NULL ? rad[k] : 0.0f;
        magnitudes += fabs(mid[k]);
        largest = fmax(largest, fabs(mid[k]));
    }
    if (!(radii < INFINITY)) {
        plan->double_midpoint[m] = 0;
        plan->mid_slot[m] = plan->radius_slot[m] = -1;
        return;
    }
    bool wide = radii > BALL_MATMUL_FLOAT_MIDPOINT_SHARE * magnitudes;
    bool use_double = !wide || !(largest <= BALL_MATMUL_FLOAT_MIDPOINT_LIMIT);
    plan->double_midpoint[m] = use_double;
    plan->mid_slot[m] = use_double ? plan->doubles++ : plan->floats++;
    plan->radius_slot[m] = plan->bounded++;
}

static void plan_rows(row_plan *plan, const double *in_mid, const float *in_rad, int M, int K, int *scratch) {
    *plan = (row_plan){.double_midpoint = scratch, .mid_slot = scratch + M, .radius_slot = scratch + 2 * M, .M = M};
    for (int m = 0; m < M; m++)
        plan_row(plan, m, in_mid + (size_t)m * K, in_rad != NULL ? in_rad + (size_t)m * K : NULL, K);
}

/* One output entry from its midpoint product and radius GEMM result:
 * mid = product + bias + the accumulated value, the radius the radius
 * GEMM's (+ underflow) inflated by its a priori error, plus the bias's
 * widening, the sum's rounding and the accumulated radius. */
static inline void finish_entry(double product, float radius, float bias, double old_mid, float old_rad,
                                double underflow, double inflate, double weight_radius, double *out_mid,
                                float *out_rad) {
    double b = bias, mid = product + b + old_mid;
    /* two roundings of the sum: at most 2^-52 (|product| + |b| + |old|) */
    double sum_error = 0x1p-51 * (fabs(product) + fabs(b) + fabs(old_mid));
    double rad = ((double)radius + underflow) * inflate + weight_radius * fabs(b) + sum_error + (double)old_rad;
    ball_set(mid, rad, out_mid, out_rad);
}

/* Output columns [n0, n1): the GEMMs of the gathered rows, then midpoint
 * and radius per entry. */
static void ball_matmul_columns(double *out_mid, float *out_rad, const ball_weight *w, const float *bias,
                                double weight_radius, bool accumulate, const row_plan *plan,
                                ball_matmul_workspace *ws, int n0, int n1) {
    int K = w->K, N = w->N, width = n1 - n0;
    CBLAS_TRANSPOSE transpose = w->layout == MATMUL_WEIGHT_IN_OUT ? CblasNoTrans : CblasTrans;
    size_t offset = w->layout == MATMUL_WEIGHT_IN_OUT ? (size_t)n0 : (size_t)n0 * K;
    int ldw = w->layout == MATMUL_WEIGHT_IN_OUT ? N : K;
    if (plan->doubles > 0)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, transpose, plan->doubles, width, K, 1.0, ws->in_double, K,
                    w->values + offset, ldw, 0.0, ws->out_mid + n0, N);
    if (plan->floats > 0) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, transpose, plan->floats, width, K, 1.0f, ws->in_float, K,
                    w->floats + offset, ldw, 0.0f, ws->out_float + n0, N);
        /* into the double products' buffer, after the double rows */
        for (int f = 0; f < plan->floats; f++) {
            const float *from = ws->out_float + (size_t)f * N;
            double *to = ws->out_mid + (size_t)(plan->doubles + f) * N;
            for (int n = n0; n < n1; n++) to[n] = from[n];
        }
    }
    if (plan->bounded > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, transpose, plan->bounded, width, K, 1.0f, ws->in_radius, K,
                    w->magnitudes + offset, ldw, 0.0f, ws->out_radius + n0, N);
    /* exact radius product <= (computed + K eta) / (1 - gamma_K(float)); the
     * float midpoint GEMM may lose another K eta to underflow */
    double inflate = 1.0 / (1.0 - ball_gamma(K, BALL_FLOAT_UNIT));
    for (int m = 0; m < plan->M; m++) {
        double *mid_out = out_mid + (size_t)m * N;
        float *rad_out = out_rad + (size_t)m * N;
        if (plan->radius_slot[m] < 0) {
            for (int n = n0; n < n1; n++)
                ball_set((bias != NULL ? (double)bias[n] : 0.0) + (accumulate ? mid_out[n] : 0.0), INFINITY,
                         &mid_out[n], &rad_out[n]);
            continue;
        }
        int slot = plan->double_midpoint[m] ? plan->mid_slot[m] : plan->doubles + plan->mid_slot[m];
        double underflow = (plan->double_midpoint[m] ? 1.0 : 2.0) * K * BALL_FLOAT_ETA;
        const float *radius = ws->out_radius + (size_t)plan->radius_slot[m] * N;
        const double *product = ws->out_mid + (size_t)slot * N;
        const float *b = bias != NULL ? bias : ws->zeros;
        if (accumulate) {
#pragma omp simd
            for (int n = n0; n < n1; n++)
                finish_entry(product[n], radius[n], b[n], mid_out[n], rad_out[n], underflow, inflate, weight_radius,
                             &mid_out[n], &rad_out[n]);
        } else {
#pragma omp simd
            for (int n = n0; n < n1; n++)
                finish_entry(product[n], radius[n], b[n], 0.0, 0.0f, underflow, inflate, weight_radius, &mid_out[n],
                             &rad_out[n]);
        }
    }
}

void ball_matmul(double *out_mid, float *out_rad, const double *in_mid, const float *in_rad, const ball_weight *weight,
                 const float *bias, int M, double weight_radius, bool accumulate, ball_matmul_workspace *ws) {
    pthread_once(&blas_single_thread_once, blas_single_thread);
    int K = weight->K, N = weight->N;
    row_plan plan;
    plan_rows(&plan, in_mid, in_rad, M, K, ws->row_plan);
    /* the radius operand: (R + e) |mid| + (1 + R) rad (+ eta for the float
     * midpoints' underflow), rounded up; e is gamma_K(double) for the double
     * midpoint GEMM, 2^-24 (rounding the midpoints to float) plus
     * gamma_K(float) (1 + 2^-23) for the float one */
    double rad_factor = 1.0 + weight_radius;
#ifdef BALL_MATMUL_WITHOUT_ROUNDING_TERM
    /* only in the test that proves the containment tests catch a missing term */
    double double_factor = weight_radius, float_factor = weight_radius;
#else
    double double_factor = weight_radius + ball_gamma(K, BALL_DOUBLE_UNIT);
    double float_factor = weight_radius + BALL_FLOAT_UNIT + ball_gamma(K, BALL_FLOAT_UNIT) * (1.0 + 0x1p-23);
#endif
#pragma omp parallel for schedule(static)
    for (int m = 0; m < M; m++) {
        if (plan.radius_slot[m] < 0) continue; /* unbounded: no GEMM */
        bool use_double = plan.double_midpoint[m];
        const double *mid = in_mid + (size_t)m * K;
        const float *rad = in_rad != NULL ? in_rad + (size_t)m * K : NULL;
        double *to_double = ws->in_double + (size_t)plan.mid_slot[m] * K;
        float *to_float = ws->in_float + (size_t)plan.mid_slot[m] * K;
        float *to_radius = ws->in_radius + (size_t)plan.radius_slot[m] * K;
        double mid_factor = use_double ? double_factor : float_factor, floor = use_double ? 0.0 : 2.0 * BALL_FLOAT_ETA;
        for (int k = 0; k < K; k++) {
            if (use_double) to_double[k] = mid[k];
            else to_float[k] = (float)mid[k];
            to_radius[k] = ball_radius_up(mid_factor * fabs(mid[k]) + rad_factor * (rad != NULL ? (double)rad[k] : 0.0) + floor);
        }
    }
    int panels = (N + BALL_PANEL_COLUMNS - 1) / BALL_PANEL_COLUMNS;
#pragma omp parallel for schedule(dynamic, 1) if (panels > 1 && !omp_in_parallel())
    for (int panel = 0; panel < panels; panel++) {
        int n0 = panel * BALL_PANEL_COLUMNS;
        int n1 = n0 + BALL_PANEL_COLUMNS < N ? n0 + BALL_PANEL_COLUMNS : N;
        ball_matmul_columns(out_mid, out_rad, weight, bias, weight_radius, accumulate, &plan, ws, n0, n1);
    }
}
