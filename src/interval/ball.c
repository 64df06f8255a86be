/*
 * ball.c - the rounding rules of midpoint-radius numbers (see ball.h).
 */
#include "interval/ball.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

double ball_gamma(long n, double unit) {
    double nu = (double)n * unit;
    /* n u and 1 - n u are exact in double for the n and units used here
     * (n below 2^29); the quotient rounds, so widen it by two units. */
    return nu / (1.0 - nu) * (1.0 + 0x1p-51);
}

double ball_chain_upper(double x, long n) { return x * (1.0 + ball_gamma(n + 2, BALL_DOUBLE_UNIT)); }

double ball_chain_lower(double x, long n) { return x * (1.0 - ball_gamma(n + 2, BALL_DOUBLE_UNIT)); }

float ball_radius_up(double r) {
    if (!(r >= 0.0)) return r < 0.0 ? 0.0f : INFINITY; /* NaN: unknown; negative: a caller's zero */
    double wide = r * BALL_CHAIN_UP + 0x1p-1000;
    if (wide > (double)FLT_MAX) return INFINITY;
    float f = (float)wide;
    if ((double)f < wide) f = nextafterf(f, INFINITY);
    return f;
}

float ball_float_down(double d) {
    float f = (float)d;
    return (double)f > d ? nextafterf(f, -INFINITY) : f;
}

float ball_float_up(double d) {
    float f = (float)d;
    return (double)f < d ? nextafterf(f, INFINITY) : f;
}

void ball_set(double mid_exact, double rad_exact, double *mid, float *rad) {
    if (!isfinite(mid_exact)) {
        *mid = 0.0;
        *rad = INFINITY;
        return;
    }
    *mid = mid_exact;
    *rad = ball_radius_up(rad_exact);
}

void ball_from_bounds(double lo, double hi, double *mid, float *rad) {
    if (!isfinite(lo) || !isfinite(hi)) {
        ball_set(isfinite(lo) ? lo : isfinite(hi) ? hi : 0.0, INFINITY, mid, rad);
        return;
    }
    double centre = 0.5 * lo + 0.5 * hi;
    double reach = fmax(hi - centre, centre - lo); /* one subtraction each: the chain rule covers it */
    ball_set(centre, reach, mid, rad);
}

int ball_weight_radius_parse(const char *text, double *radius) {
    if (strcmp(text, "bf16") == 0) return *radius = 0x1p-8, 0;
    if (strcmp(text, "f16") == 0) return *radius = 0x1p-11, 0;
    char *end = NULL;
    double value = strtod(text, &end);
    if (end == text || *end != '\0' || !(value >= 0.0) || value >= 1.0) return -1;
    *radius = value;
    return 0;
}

double ball_exp_lower(double a, double b) {
    double d = a - b;
    d -= fabs(d) * 0x1p-52;
    double e = exp(d) * (1.0 - 0x1p-49) - 0x1p-1072;
    return e > 0.0 ? e : 0.0;
}

double ball_exp_upper(double a, double b) {
    double d = a - b;
    d += fabs(d) * 0x1p-52;
    return exp(d) * (1.0 + 0x1p-49) + 0x1p-1072;
}

void ball_probability_bounds(double e_lo, double e_hi, double sum_lo, double sum_hi, double *p_lo, double *p_hi) {
    /* the others' sums: one subtraction each, rounded outward */
    double others_hi = (sum_hi - e_hi) * (1.0 + 0x1p-51);
    double others_lo = (sum_lo - e_lo) * (1.0 - 0x1p-51);
    if (others_hi < 0.0) others_hi = 0.0;
    if (others_lo < 0.0) others_lo = 0.0;
    double denominator = e_lo + others_hi;
    *p_lo = denominator > 0.0 ? e_lo / denominator * (1.0 - 0x1p-50) : 0.0;
    double high = e_hi / (e_hi + others_lo) * (1.0 + 0x1p-50);
    *p_hi = high < 1.0 ? high : 1.0;
}
