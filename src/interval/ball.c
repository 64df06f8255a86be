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

