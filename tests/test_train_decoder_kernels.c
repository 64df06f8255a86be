/*
 * test_train_decoder_kernels.c - the rotary decoder's training kernels
 * (src/train/rms_norm_backward.h, src/train/rope_backward.h) against their
 * definitions:
 *   - RMSNorm's training forward: the same bits as kernels/norms.h's rms_norm,
 *     its saved r against the double oracle;
 *   - RMSNorm's backward (offset 0, Llama, and 1, Gemma's 1 + w) against the
 *     double oracle's chain rule written per element, and the oracle and the
 *     kernel against central finite differences of the double forward pass;
 *     it adds to d_in and d_weight, and d_weight may be NULL;
 *   - the rotary backward (full and partial rotary) against the oracle's
 *     rotation by the negated angles, and against finite differences of the
 *     forward rotation; the pass-through dimensions untouched;
 *   - the same bits with 1 and 2 OpenMP threads on sizes that fork a team.
 */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoder_backward_reference.h"
#include "kernels/norms.h"
#include "kernels/rope.h"
#include "test_support.h"
#include "train/rms_norm_backward.h"
#include "train/rope_backward.h"

/* n uniform values in [-scale, scale] into f and the same values into d (either may be NULL). */
static void fill_random(float *f, double *d, size_t n, double scale, uint64_t *state) {
    for (size_t i = 0; i < n; i++) {
        float value = (float)(scale * (2.0 * test_random_unit(state) - 1.0));
        if (f) f[i] = value;
        if (d) d[i] = value;
    }
}

/* The largest |a - b| / max(|b|, floor) over n entries. */
static double max_relative(const float *a, const double *b, size_t n, double floor) {
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double scale = fabs(b[i]) > floor ? fabs(b[i]) : floor;
        double diff = fabs((double)a[i] - b[i]) / scale;
        if (diff > worst || isnan(diff)) worst = isnan(diff) ? INFINITY : diff;
    }
    return worst;
}

/* The largest |a - b| / max(|b|, floor) of two double arrays. */
static double max_relative_double(const double *a, const double *b, size_t n, double floor) {
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double scale = fabs(b[i]) > floor ? fabs(b[i]) : floor;
        double diff = fabs(a[i] - b[i]) / scale;
        if (diff > worst || isnan(diff)) worst = isnan(diff) ? INFINITY : diff;
    }
    return worst;
}

/* sum(d_out . rms_norm(x)) in double. scratch (N, C). */
static double rms_objective(const double *x, const double *weight, double offset, const double *d_out, int N, int C,
                            double eps, double *scratch) {
    rms_norm_forward_reference(scratch, x, weight, offset, N, C, eps);
    double sum = 0.0;
    for (size_t i = 0; i < (size_t)N * C; i++) sum += d_out[i] * scratch[i];
    return sum;
}

/* RMSNorm forward and backward on an (N, C) problem with the given offset. */
static void test_rms_norm(int N, int C, float offset, uint64_t seed) {
    size_t n = (size_t)N * C;
    float eps = 1e-5f;
    float *x = malloc(n * sizeof(float)), *w = malloc((size_t)C * sizeof(float)), *dy = malloc(n * sizeof(float));
    float *y = malloc(n * sizeof(float)), *y_kernel = malloc(n * sizeof(float)), *rstd = malloc((size_t)N * sizeof(float));
    float *dx = malloc(n * sizeof(float)), *dw = malloc((size_t)C * sizeof(float));
    double *x64 = malloc(n * sizeof(double)), *w64 = malloc((size_t)C * sizeof(double)), *dy64 = malloc(n * sizeof(double));
    double *dx_ref = malloc(n * sizeof(double)), *dw_ref = malloc((size_t)C * sizeof(double));
    double *scratch = malloc(n * sizeof(double));
    uint64_t state = seed;
    fill_random(x, x64, n, 2.0, &state);
    fill_random(w, w64, (size_t)C, 1.0, &state);
    fill_random(dy, dy64, n, 1.0, &state);

    /* forward: y and r against the double oracle */
    rms_norm_reference(y_kernel, x, w, offset, N, C, eps);
    rms_norm_keeping(y, rstd, x, w, offset, N, C, eps);
    double worst_y = 0.0, largest_y = 1e-30;
    for (size_t i = 0; i < n; i++) {
        worst_y = fmax(worst_y, fabs((double)y[i] - y_kernel[i]));
        largest_y = fmax(largest_y, fabs((double)y_kernel[i]));
    }
    CHECK_MSG(worst_y / largest_y < 1e-6, "rms_norm_keeping vs the oracle %g", worst_y / largest_y);
    double worst_rstd = 0.0;
    for (int row = 0; row < N; row++) {
        double squares = 0.0;
        for (int c = 0; c < C; c++) squares += x64[(size_t)row * C + c] * x64[(size_t)row * C + c];
        double r = 1.0 / sqrt(squares / C + (double)eps);
        worst_rstd = fmax(worst_rstd, fabs(rstd[row] - r) / r);
    }
    CHECK_MSG(worst_rstd < 1e-6, "rstd relative error %g", worst_rstd);

    /* backward against the oracle; it adds to what is there */
    for (size_t i = 0; i < n; i++) dx[i] = 0.5f;
    for (int c = 0; c < C; c++) dw[c] = -0.25f;
    rms_norm_backward(dx, dw, dy, x, rstd, w, offset, N, C);
    rms_norm_backward_reference(dx_ref, dw_ref, dy64, x64, w64, offset, N, C, eps);
    for (size_t i = 0; i < n; i++) dx[i] -= 0.5f;
    for (int c = 0; c < C; c++) dw[c] += 0.25f;
    double err_dx = max_relative(dx, dx_ref, n, 1e-2), err_dw = max_relative(dw, dw_ref, (size_t)C, 1e-2);
    printf("rms_norm N=%d C=%d offset %g: d_in vs oracle %.2e, d_weight %.2e\n", N, C, offset, err_dx, err_dw);
    CHECK_MSG(err_dx < 1e-4, "d_in %g", err_dx);
    CHECK_MSG(err_dw < 1e-4, "d_weight %g", err_dw);

    /* d_weight NULL: d_in the same */
    float *dx_again = calloc(n, sizeof(float));
    rms_norm_backward(dx_again, NULL, dy, x, rstd, w, offset, N, C);
    double same = 0.0;
    for (size_t i = 0; i < n; i++) same = fmax(same, fabs(dx_again[i] - dx[i]));
    CHECK_MSG(same < 1e-5, "d_in without d_weight differs by %g", same);
    free(dx_again);

    /* central finite differences of the double forward (h = 1e-6: truncation h^2 and rounding 1e-16 / h
     * of the objective's few hundred units stay below 1e-5 of an entry of 1e-2) */
    if (n <= 4096) {
        double h = 1e-6, worst_oracle = 0.0, worst_kernel = 0.0;
        double *fd = malloc(n * sizeof(double));
        for (size_t i = 0; i < n; i++) {
            double saved = x64[i];
            x64[i] = saved + h;
            double plus = rms_objective(x64, w64, offset, dy64, N, C, eps, scratch);
            x64[i] = saved - h;
            double minus = rms_objective(x64, w64, offset, dy64, N, C, eps, scratch);
            x64[i] = saved;
            fd[i] = (plus - minus) / (2 * h);
        }
        worst_oracle = max_relative_double(dx_ref, fd, n, 1e-2);
        worst_kernel = max_relative(dx, fd, n, 1e-2);
        double *fd_w = malloc((size_t)C * sizeof(double));
        for (int c = 0; c < C; c++) {
            double saved = w64[c];
            w64[c] = saved + h;
            double plus = rms_objective(x64, w64, offset, dy64, N, C, eps, scratch);
            w64[c] = saved - h;
            double minus = rms_objective(x64, w64, offset, dy64, N, C, eps, scratch);
            w64[c] = saved;
            fd_w[c] = (plus - minus) / (2 * h);
        }
        double worst_w_oracle = max_relative_double(dw_ref, fd_w, (size_t)C, 1e-2);
        double worst_w_kernel = max_relative(dw, fd_w, (size_t)C, 1e-2);
        printf("  vs finite differences: oracle d_in %.2e d_weight %.2e, kernel d_in %.2e d_weight %.2e\n",
               worst_oracle, worst_w_oracle, worst_kernel, worst_w_kernel);
        CHECK_MSG(worst_oracle < 1e-5, "oracle d_in vs FD %g", worst_oracle);
        CHECK_MSG(worst_w_oracle < 1e-5, "oracle d_weight vs FD %g", worst_w_oracle);
        CHECK_MSG(worst_kernel < 1e-4, "kernel d_in vs FD %g", worst_kernel);
        CHECK_MSG(worst_w_kernel < 1e-4, "kernel d_weight vs FD %g", worst_w_kernel);
        free(fd);
        free(fd_w);
    }
    free(x), free(w), free(dy), free(y), free(y_kernel), free(rstd), free(dx), free(dw);
    free(x64), free(w64), free(dy64), free(dx_ref), free(dw_ref), free(scratch);
}

/* Same bits with 1 and 2 threads, on a size that forks a team. */
static void test_rms_norm_threads(void) {
    int N = 1200, C = 64;
    size_t n = (size_t)N * C;
    float *x = malloc(n * sizeof(float)), *w = malloc((size_t)C * sizeof(float)), *dy = malloc(n * sizeof(float));
    float *y = malloc(n * sizeof(float)), *rstd = malloc((size_t)N * sizeof(float));
    float *dx[2] = {calloc(n, sizeof(float)), calloc(n, sizeof(float))};
    float *dw[2] = {calloc((size_t)C, sizeof(float)), calloc((size_t)C, sizeof(float))};
    uint64_t state = 77;
    fill_random(x, NULL, n, 1.0, &state);
    fill_random(w, NULL, (size_t)C, 1.0, &state);
    fill_random(dy, NULL, n, 1.0, &state);
    rms_norm_keeping(y, rstd, x, w, 0.0f, N, C, 1e-6f);
    for (int run = 0; run < 2; run++) {
        omp_set_num_threads(run + 1);
        rms_norm_backward(dx[run], dw[run], dy, x, rstd, w, 0.0f, N, C);
    }
    omp_set_num_threads(2);
    CHECK(memcmp(dx[0], dx[1], n * sizeof(float)) == 0);
    CHECK(memcmp(dw[0], dw[1], (size_t)C * sizeof(float)) == 0);
    free(x), free(w), free(dy), free(y), free(rstd), free(dx[0]), free(dx[1]), free(dw[0]), free(dw[1]);
}

/* sum(d_out . rope(x)) in double through the oracle. scratch (n). */
static double rope_objective(const double *x, const double *d_out, size_t n, int T, int H, int D, int half,
                             const float *inv_freq, double *scratch) {
    memcpy(scratch, x, n * sizeof(double));
    rope_rotate_reference(scratch, T, H, D, half, inv_freq, 0);
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += d_out[i] * scratch[i];
    return sum;
}

/* The rotary backward on T positions of H heads of width D, R = rotary_dim. */
static void test_rope(int T, int H, int D, int rotary_dim, uint64_t seed) {
    int half = rotary_dim / 2;
    size_t n = (size_t)T * H * D;
    rope_params params = {.rotary_dim = rotary_dim, .theta = 10000.0, .scaling = ROPE_SCALING_DEFAULT};
    float *inv_freq = malloc((size_t)half * sizeof(float));
    float *cos_table = malloc((size_t)T * half * sizeof(float)), *sin_table = malloc((size_t)T * half * sizeof(float));
    rope_inverse_frequencies(&params, inv_freq);
    rope_tables(inv_freq, half, T, cos_table, sin_table);
    float *grad = malloc(n * sizeof(float));
    double *grad64 = malloc(n * sizeof(double)), *x64 = malloc(n * sizeof(double)), *scratch = malloc(n * sizeof(double));
    uint64_t state = seed;
    fill_random(grad, grad64, n, 1.0, &state);
    fill_random(NULL, x64, n, 1.0, &state);
    double *fd = malloc(n * sizeof(double));
    double h = 1e-6;
    for (size_t i = 0; i < n; i++) {
        double saved = x64[i];
        x64[i] = saved + h;
        double plus = rope_objective(x64, grad64, n, T, H, D, half, inv_freq, scratch);
        x64[i] = saved - h;
        double minus = rope_objective(x64, grad64, n, T, H, D, half, inv_freq, scratch);
        x64[i] = saved;
        fd[i] = (plus - minus) / (2 * h);
    }
    float *pass = malloc(n * sizeof(float));
    memcpy(pass, grad, n * sizeof(float));
    rope_backward(grad, T, H, D, half, cos_table, sin_table);
    rope_rotate_reference(grad64, T, H, D, half, inv_freq, 1);
    /* the tables round each angle to float as transformers does (t inv_freq, t up to 40: some 2e-6 of a
     * radian), the oracle does not */
    double err_oracle = max_relative(grad, grad64, n, 1e-2);
    double err_fd = max_relative(grad, fd, n, 1e-2), err_oracle_fd = max_relative_double(grad64, fd, n, 1e-2);
    printf("rope T=%d H=%d D=%d R=%d: vs oracle %.2e, vs finite differences %.2e (oracle %.2e)\n", T, H, D,
           rotary_dim, err_oracle, err_fd, err_oracle_fd);
    CHECK_MSG(err_oracle < 5e-5, "rope backward vs oracle %g", err_oracle);
    CHECK_MSG(err_fd < 5e-5, "rope backward vs FD %g", err_fd);
    CHECK_MSG(err_oracle_fd < 1e-5, "oracle vs FD %g", err_oracle_fd);
    int untouched = 1;
    for (int row = 0; row < T * H; row++)
        for (int i = rotary_dim; i < D; i++)
            untouched &= grad[(size_t)row * D + i] == pass[(size_t)row * D + i];
    CHECK(untouched);
    /* the rotation's inverse: backward of the forward is the identity up to rounding */
    memcpy(grad, pass, n * sizeof(float));
    rope_apply(grad, T, H, D, half, cos_table, sin_table);
    rope_backward(grad, T, H, D, half, cos_table, sin_table);
    double round_trip = 0.0;
    for (size_t i = 0; i < n; i++) round_trip = fmax(round_trip, fabs(grad[i] - pass[i]));
    CHECK_MSG(round_trip < 1e-6, "round trip %g", round_trip);
    free(inv_freq), free(cos_table), free(sin_table), free(grad), free(grad64), free(x64), free(scratch), free(fd);
    free(pass);
}

int main(void) {
    test_rms_norm(9, 37, 0.0f, 1);
    test_rms_norm(5, 64, 1.0f, 2);
    test_rms_norm(3, 1, 0.0f, 3);
    test_rms_norm(1100, 64, 0.0f, 4); /* forks a team */
    test_rms_norm_threads();
    test_rope(11, 3, 8, 8, 5);
    test_rope(7, 2, 12, 4, 6); /* partial rotary: 4 of 12 dimensions turn */
    test_rope(40, 4, 16, 16, 7);
    return test_finish("test_train_decoder_kernels");
}
