/*
 * ball_activations.c - GELU, ReLU and SiLU on balls (see
 * ball_activations.h; bounds derived in docs/CERTIFY.md, "Activations").
 */
#include "interval/ball_activations.h"

#include <math.h>
#include <pthread.h>

#include "interval/ball.h"

/* Half-width of the window around the computed minimum inside which a ball
 * is taken to reach the minimum. The bisection (find_minimum) decides the
 * derivative's sign by a central difference of step 1e-7, which equals
 * 2h f'(xi) for some xi within h of the point and is evaluated to about
 * 1e-16, against |f''| above 0.3 near the minimum: the computed minimiser
 * is within 2e-7 of the true one, so the true one lies inside the window,
 * and a ball wholly to one side of the window is on one monotone side. */
#define ACTIVATION_MINIMUM_WINDOW 1e-6
/* Absolute slack: where e^(-2u) or erfc overflows or underflows, the exact
 * value is below 1e-305 in magnitude (docs/CERTIFY.md). */
#define ACTIVATION_ABSOLUTE_SLACK 0x1p-1000

/* e / (1 + e): the share of the denominator 1 + e that e's own error
 * moves (1 where e overflowed). */
static double exponential_share(double e) { return e > 1e300 ? 1.0 : e / (1.0 + e); }

/* The activation in double with its relative error bound. */
static double evaluate(activation_kind kind, double x, double *relative_error) {
    switch (kind) {
    case ACTIVATION_GELU_TANH: {
        /* x / (1 + e^(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3): u errs by at
         * most 8 roundings (constants included; x and 0.044715 x^3 share a
         * sign), e^(-2u) by 2|u| times that plus libm's exp (below 1 ulp,
         * taken as 4), the sum and quotient by one rounding each. */
        double u = 0.7978845608028654 * (x + 0.044715 * x * x * x);
        double e = exp(-2.0 * u);
        *relative_error = (16.0 * fabs(u) + 8.0) * BALL_DOUBLE_UNIT * exponential_share(e) + 8.0 * BALL_DOUBLE_UNIT;
        return x / (1.0 + e);
    }
    case ACTIVATION_GELU_ERF: {
        /* 0.5 x erfc(-x / sqrt 2): no cancellation; erfc's relative
         * sensitivity to its argument z is below 2 z^2 + 2, libm's erfc is
         * taken within 16 ulp. */
        double z = -x * 0.7071067811865476;
        *relative_error = (32.0 + (z > 0.0 ? 8.0 * z * z : 0.0)) * BALL_DOUBLE_UNIT;
        return 0.5 * x * erfc(z);
    }
    case ACTIVATION_SILU: {
        /* x / (1 + e^(-x)): as the tanh form with 2u = x */
        double e = exp(-x);
        *relative_error = (8.0 * fabs(x) + 8.0) * BALL_DOUBLE_UNIT * exponential_share(e) + 8.0 * BALL_DOUBLE_UNIT;
        return x / (1.0 + e);
    }
    case ACTIVATION_RELU:
    default:
        *relative_error = 0.0;
        return x > 0.0 ? x : 0.0;
    }
}

void ball_activation_point(activation_kind kind, double x, double *lo, double *hi) {
    double relative;
    double value = evaluate(kind, x, &relative);
    double slack = fabs(value) * relative + ACTIVATION_ABSOLUTE_SLACK;
    *lo = value - slack;
    *hi = value + slack;
    if (kind == ACTIVATION_RELU) *lo = *hi = value;
}

/* The derivative's sign, for locating the minimum. */
static double slope(activation_kind kind, double x) {
    double h = 1e-7;
    double relative;
    return evaluate(kind, x + h, &relative) - evaluate(kind, x - h, &relative);
}

typedef struct activation_minimum {
    double at;    /* the computed minimiser */
    double lower; /* a lower bound of the minimum value */
} activation_minimum;

static activation_minimum minima[3]; /* GELU tanh, GELU erf, SiLU */
static pthread_once_t minima_once = PTHREAD_ONCE_INIT;

static void find_minimum(activation_kind kind, activation_minimum *out) {
    double a = -3.0, b = -0.25; /* slope < 0 at a, > 0 at b for the three */
    for (int i = 0; i < 200 && b - a > 1e-15; i++) {
        double c = 0.5 * (a + b);
        if (slope(kind, c) < 0.0) a = c;
        else b = c;
    }
    out->at = 0.5 * (a + b);
    double lo, hi;
    ball_activation_point(kind, out->at, &lo, &hi);
    /* f(x*) >= f(at) - max|f''| / 2 (at - x*)^2, max|f''| below 2 there,
     * |at - x*| below the window */
    out->lower = lo - ACTIVATION_MINIMUM_WINDOW * ACTIVATION_MINIMUM_WINDOW;
}

static void find_minima(void) {
    find_minimum(ACTIVATION_GELU_TANH, &minima[0]);
    find_minimum(ACTIVATION_GELU_ERF, &minima[1]);
    find_minimum(ACTIVATION_SILU, &minima[2]);
}

static const activation_minimum *minimum_of(activation_kind kind) {
    pthread_once(&minima_once, find_minima);
    switch (kind) {
    case ACTIVATION_GELU_TANH: return &minima[0];
    case ACTIVATION_GELU_ERF: return &minima[1];
    case ACTIVATION_SILU: return &minima[2];
    case ACTIVATION_RELU:
    default: return NULL;
    }
}

/* [lo, hi] containing f over [x_lo, x_hi]. */
static void image_bounds(activation_kind kind, const activation_minimum *minimum, double x_lo, double x_hi,
                         double *lo, double *hi) {
    double a_lo, a_hi, b_lo, b_hi;
    ball_activation_point(kind, x_lo, &a_lo, &a_hi);
    ball_activation_point(kind, x_hi, &b_lo, &b_hi);
    if (minimum == NULL || x_lo >= minimum->at + ACTIVATION_MINIMUM_WINDOW) { /* rising (ReLU: everywhere) */
        *lo = a_lo, *hi = b_hi;
    } else if (x_hi <= minimum->at - ACTIVATION_MINIMUM_WINDOW) { /* falling */
        *lo = b_lo, *hi = a_hi;
    } else {
        *lo = minimum->lower;
        *hi = fmax(a_hi, b_hi);
    }
}

void ball_activation(activation_kind kind, double *mid, float *rad, size_t n) {
    const activation_minimum *minimum = minimum_of(kind);
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        double x_lo, x_hi, lo, hi;
        if (!isfinite(mid[i]) || !isfinite(rad[i])) {
            rad[i] = INFINITY;
            continue;
        }
        ball_bounds(mid[i], rad[i], &x_lo, &x_hi);
        image_bounds(kind, minimum, x_lo, x_hi, &lo, &hi);
        ball_from_bounds(lo, hi, &mid[i], &rad[i]);
    }
}

void ball_activation_gated(activation_kind kind, double *gate_mid, float *gate_rad, const double *up_mid,
                           const float *up_rad, size_t n) {
    ball_activation(kind, gate_mid, gate_rad, n);
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        double gm = gate_mid[i], gr = gate_rad[i], um = up_mid[i], ur = up_rad[i];
        double p = gm * um;
        double r = fabs(gm) * ur + gr * fabs(um) + gr * ur + 0x1p-53 * fabs(p);
        ball_set(p, r, &gate_mid[i], &gate_rad[i]);
    }
}
