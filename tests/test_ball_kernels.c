/*
 * test_ball_kernels.c - the ball kernels on inputs whose exact answers are
 * known independently: the adversarial product of ball_adversarial.h (exact
 * result 1 by hand, lost to rounding in the midpoint), and the GELU and
 * SiLU images of balls around their minimum and elsewhere, held against the
 * double-precision reference activations (kernels/activations.h) on a dense
 * grid of points inside each ball. A ball kernel may be loose but never
 * miss: every point's value must lie inside. And one product whose input
 * rows need each of ball_matmul's paths (double and float midpoints, an
 * unbounded row, midpoints too large for float), held against the exact
 * interval product computed term by term in long double.
 */
#include <math.h>
#include <stdio.h>

#include "ball_adversarial.h"
#include "interval/ball_activations.h"
#include "interval/ball_matmul.h"
#include "kernels/activations.h"
#include "test_support.h"

static void test_adversarial_product(void) {
    int misses = ball_adversarial_misses();
    CHECK_MSG(misses == 0, "%d of %d adversarial balls miss the exact result 1", misses, ADVERSARIAL_ROWS);
}

/* Every grid point of the ball (mid, rad) maps inside the ball's image. */
static void check_image(activation_kind kind, float mid, float rad) {
    double m = mid;
    float r = rad;
    ball_activation(kind, &m, &r, 1);
    double lo, hi;
    ball_bounds(m, r, &lo, &hi);
    int outside = 0;
    for (int i = 0; i <= 2000; i++) {
        float x = (float)(mid - rad + 2.0 * rad * i / 2000.0);
        if (x < mid - rad || x > mid + rad) continue;
        float y = x;
        activation_apply_reference(kind, &y, 1);
        /* the reference rounds to float: allow its half ulp */
        double slack = 0.5 * (double)(nextafterf(fabsf(y), INFINITY) - fabsf(y));
        outside += !((double)y >= lo - slack && (double)y <= hi + slack);
    }
    CHECK_MSG(outside == 0, "activation %d, ball %g +- %g: %d points outside [%.9g, %.9g]", (int)kind, mid, rad,
              outside, lo, hi);
    /* and the image is tight where the function is flat or smooth */
    CHECK_MSG(hi - lo < 4.0 * rad + 1e-6, "activation %d, ball %g +- %g: image [%g, %g] too wide", (int)kind, mid,
              rad, lo, hi);
}

static void test_activations(void) {
    const activation_kind kinds[] = {ACTIVATION_GELU_TANH, ACTIVATION_GELU_ERF, ACTIVATION_SILU, ACTIVATION_RELU};
    const float balls[][2] = {{-0.7518f, 0.01f}, {-0.76f, 1e-6f}, {-1.2785f, 0.05f}, {-3.0f, 0.5f}, {0.0f, 0.25f},
                              {0.3f, 1e-4f},     {2.5f, 1.0f},    {-12.0f, 2.0f},    {40.0f, 0.5f}};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        for (size_t b = 0; b < sizeof balls / sizeof balls[0]; b++) check_image(kinds[k], balls[b][0], balls[b][1]);
    /* the minimum itself: a ball around GELU's minimiser reaches down to
     * its value, about -0.170040 (tanh form) */
    double m = -0.75;
    float r = 0.05f;
    ball_activation(ACTIVATION_GELU_TANH, &m, &r, 1);
    CHECK_MSG(m - r <= -0.17004f && m - r > -0.1701f, "GELU's minimum: lower end %.7g", m - r);
}

enum { MIXED_ROWS = 5, MIXED_K = 96, MIXED_N = 300 };

/* A deterministic value in [-1, 1). */
static double unit_value(uint32_t *state) {
    *state = *state * 1664525u + 1013904223u;
    return (double)(*state >> 8) / (double)(1u << 23) - 1.0;
}

/* The exact product's interval for input row m and column n: each term
 * w [mid - rad, mid + rad], its ends ordered by w's sign; long double
 * carries 11 more bits than the balls' double midpoints, so its own
 * rounding is far below the radii checked against it. */
static void exact_interval(const double *mid, const float *rad, const float *weight, int m, int n, long double *lo,
                           long double *hi) {
    long double low = 0.0L, high = 0.0L;
    for (int k = 0; k < MIXED_K; k++) {
        long double w = weight[(size_t)k * MIXED_N + n], a = mid[m * MIXED_K + k], r = rad[m * MIXED_K + k];
        long double x = w * (a - r), y = w * (a + r);
        low += x < y ? x : y;
        high += x < y ? y : x;
    }
    *lo = low, *hi = high;
}

static void test_mixed_product(void) {
    static double mid[MIXED_ROWS * MIXED_K], out_mid[MIXED_ROWS * MIXED_N];
    static float rad[MIXED_ROWS * MIXED_K], weight[MIXED_K * MIXED_N], out_rad[MIXED_ROWS * MIXED_N];
    uint32_t state = 12345u;
    for (int i = 0; i < MIXED_K * MIXED_N; i++) weight[i] = (float)unit_value(&state);
    /* row 0 narrow (radius 1e-12 of the values), 1 wide (2^-4), 2 unbounded
     * (one infinite radius), 3 wide with values near 2^70, 4 exact */
    const double scale[MIXED_ROWS] = {1.0, 1.0, 1.0, 0x1p70, 1.0}, share[MIXED_ROWS] = {1e-12, 0x1p-4, 1e-12, 0x1p-4, 0};
    for (int m = 0; m < MIXED_ROWS; m++)
        for (int k = 0; k < MIXED_K; k++) {
            mid[m * MIXED_K + k] = scale[m] * unit_value(&state);
            rad[m * MIXED_K + k] = (float)(share[m] * fabs(mid[m * MIXED_K + k]));
        }
    rad[2 * MIXED_K + 7] = INFINITY;
    ball_matmul_workspace workspace;
    if (ball_matmul_workspace_build(&workspace, MIXED_ROWS * MIXED_K, MIXED_ROWS * MIXED_N, MIXED_K * MIXED_N) != 0) {
        CHECK_MSG(0, "out of memory");
        return;
    }
    ball_weight prepared;
    weight_view view = {.dtype = WEIGHT_DTYPE_F32, .data = weight, .rows = MIXED_K, .columns = MIXED_N};
    ball_weight_prepare_in(&prepared, &view, MIXED_K, MIXED_N, MATMUL_WEIGHT_IN_OUT, &workspace);
    ball_matmul(out_mid, out_rad, mid, rad, &prepared, NULL, MIXED_ROWS, 0.0, false, &workspace);
    int outside = 0, unbounded = 0;
    double narrow_width = 0.0;
    for (int m = 0; m < MIXED_ROWS; m++) {
        for (int n = 0; n < MIXED_N; n++) {
            double lo, hi;
            ball_bounds(out_mid[m * MIXED_N + n], out_rad[m * MIXED_N + n], &lo, &hi);
            if (m == 2) {
                unbounded += isinf(out_rad[m * MIXED_N + n]) && isfinite(out_mid[m * MIXED_N + n]);
                continue;
            }
            long double exact_lo, exact_hi;
            exact_interval(mid, rad, weight, m, n, &exact_lo, &exact_hi);
            outside += !((long double)lo <= exact_lo && exact_hi <= (long double)hi);
            if (m == 0) narrow_width = fmax(narrow_width, (double)((long double)(hi - lo) / (exact_hi - exact_lo)));
        }
    }
    ball_matmul_workspace_free(&workspace);
    CHECK_MSG(outside == 0, "%d bounded product balls miss the exact interval", outside);
    CHECK_MSG(unbounded == MIXED_N, "the unbounded row: %d of %d outputs unbounded with a finite midpoint", unbounded,
              MIXED_N);
    /* the narrow row went through the double midpoint GEMM: its balls stay
     * within a few times the exact width (a float midpoint would add some
     * 1e-5 of the values, 10^7 times the width) */
    CHECK_MSG(narrow_width < 4.0, "the narrow row's balls are %g times the exact width", narrow_width);
}

int main(void) {
    test_adversarial_product();
    test_mixed_product();
    test_activations();
    return test_finish("test_ball_kernels");
}
