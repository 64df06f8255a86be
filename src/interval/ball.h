/*
 * ball.h - midpoint-radius ("ball") numbers: the closed interval
 * [mid - rad, mid + rad] with a double midpoint and a float radius, and the
 * few rules every interval kernel (src/interval) builds on.
 *
 * The kernels compute in double. Midpoints stay in double, so the radius
 * they start from is some 1e-16 of a value rather than float's 6e-8 (every
 * later step multiplies it); a radius rounds up to float through
 * ball_radius_up. docs/CERTIFY.md derives every bound.
 *
 * The accounting rule for double arithmetic: every +, -, x, /, sqrt on
 * finite doubles in round-to-nearest errs by at most 2^-53 of its result
 * (away from double underflow, which float-sized data never reaches but
 * through 2^-1000-sized slack that ball_radius_up adds). A chain of at most
 * 2^21 such operations whose results are all nonnegative (a radius, a bound
 * of a squared or exponentiated quantity) is therefore within a factor
 * (1 +- 2^-31.9) of its exact value: BALL_CHAIN_UP and BALL_CHAIN_DOWN widen
 * by (1 +- 2^-30), which also covers their own rounding. A signed sum with
 * cancellation gets its own explicit term.
 */
#ifndef LOUPE_INTERVAL_BALL_H
#define LOUPE_INTERVAL_BALL_H

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* 2^-24 and 2^-53: the unit roundoffs of float and double. */
#define BALL_FLOAT_UNIT 0x1p-24
#define BALL_DOUBLE_UNIT 0x1p-53
/* The smallest positive (subnormal) float: one product of a float GEMM may
 * lose up to half of it to underflow. */
#define BALL_FLOAT_ETA 0x1p-149
/* The widening of a nonnegative chain of double operations (see above). */
#define BALL_CHAIN_UP (1.0 + 0x1p-30)
#define BALL_CHAIN_DOWN (1.0 - 0x1p-30)

/* gamma_n = n u / (1 - n u), Higham's bound on the relative error of an
 * n-term dot product in round-to-nearest with unit roundoff u, in any order
 * of summation, with or without fused multiply-adds. Rounded up. n u < 1/2. */
double ball_gamma(long n, double unit);

/* x >= 0 computed in double by a chain of at most n roundings whose
 * results are all nonnegative, widened to an upper (lower) bound of its
 * exact value: x (1 +- gamma_(n+2)), the two extra units for this
 * multiplication's own rounding. Values (a variance, a sum of
 * exponentials) are widened this way, by their own count of roundings;
 * radii by ball_radius_up's cruder factor, which only scales a radius. */
double ball_chain_upper(double x, long n);
double ball_chain_lower(double x, long n);

/* The largest float <= d, and the smallest float >= d (+-inf stay; a
 * double above FLT_MAX gives +inf). Inline and free of branches, as every
 * per-token loop of the lens rounds through them and vectorises: the
 * float above f is the next bit pattern (a float's bits order its
 * magnitude), what nextafterf(f, +inf) gives. */
static inline float ball_float_up(double d) {
    float f = (float)d, above;
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    bits = f == 0.0f ? 1u : f > 0.0f ? bits + 1u : bits - 1u;
    memcpy(&above, &bits, sizeof above);
    return (double)f < d ? above : f;
}

static inline float ball_float_down(double d) { return -ball_float_up(-d); }

/* The smallest float >= r (1 + 2^-30) + 2^-1000, for a radius r >= 0
 * computed in double: covers the chain rule above and any double underflow.
 * +inf when that exceeds FLT_MAX, and for NaN (a radius that is unknown is
 * infinite). */
static inline float ball_radius_up(double r) {
    float up = ball_float_up(r * BALL_CHAIN_UP + 0x1p-1000);
    return r >= 0.0 ? up : r < 0.0 ? 0.0f : INFINITY; /* NaN: unknown; negative: a caller's zero */
}

/* lo, hi: bounds of the ball (mid, rad) in double, widened outward by
 * 2^-52 of their size, so lo <= mid - rad and mid + rad <= hi exactly.
 * Inline: the per-token loops of the lens vectorise through it. */
static inline void ball_bounds(double mid, float rad, double *lo, double *hi) {
    double low = mid - (double)rad, high = mid + (double)rad;
    *lo = low - __builtin_fabs(low) * 0x1p-52;
    *hi = high + __builtin_fabs(high) * 0x1p-52;
}

/* The ball (*mid, *rad) that contains [lo, hi] (lo <= hi, exact bounds in
 * double): the midpoint between them, the radius to the farther end
 * rounded up. A NaN or infinite bound gives radius +inf. */
void ball_from_bounds(double lo, double hi, double *mid, float *rad);

/* The ball (*mid, *rad) for a midpoint computed in double whose error is
 * already in rad_exact >= 0: a NaN or infinite midpoint gives radius +inf
 * (and midpoint 0). */
static inline void ball_set(double mid_exact, double rad_exact, double *mid, float *rad) {
    /* both computed, then chosen: no branch, so the callers' loops vectorise */
    bool finite = mid_exact - mid_exact == 0.0; /* neither NaN nor infinite */
    float radius = ball_radius_up(rad_exact);
    *mid = finite ? mid_exact : 0.0;
    *rad = finite ? radius : INFINITY;
}

/* Bounds of e^(a - b) from libm's exp (below 1 ulp; widened by 8) with
 * the subtraction's rounding and double underflow accounted for. */
double ball_exp_lower(double a, double b);
double ball_exp_upper(double a, double b);

/* Bounds of one softmax probability p_j = e^(s_j) / sum_k e^(s_k) for
 * scores in intervals: e_lo <= e^(lo_j - M) <= ... as bounds of token j's
 * shifted exponential at its score's lower and upper end, sum_lo and
 * sum_hi bounds of the sums over all k of those lower and upper
 * exponentials (each >= 0). p_j rises with s_j and falls with every other
 * score, so
 *     e_lo / (e_lo + (sum_hi - e_hi)) <= p_j <= e_hi / (e_hi + (sum_lo - e_lo)).
 * e_hi > 0. ball_probability_quotients gives the two quotients and the
 * first's denominator unclamped; ball_probability_bounds clamps them to
 * [0, 1], ball_probability_bounds_float also rounds them outward to float. */
static inline void ball_probability_quotients(double e_lo, double e_hi, double sum_lo, double sum_hi,
                                              double *denominator, double *low, double *high) {
    /* the others' sums: one subtraction each, rounded outward; every
     * quotient computed, and clamped by the callers after, so that their
     * loops vectorise */
    double others_hi = (sum_hi - e_hi) * (1.0 + 0x1p-51);
    double others_lo = (sum_lo - e_lo) * (1.0 - 0x1p-51);
    others_hi = others_hi < 0.0 ? 0.0 : others_hi;
    others_lo = others_lo < 0.0 ? 0.0 : others_lo;
    *denominator = e_lo + others_hi;
    *low = e_lo / *denominator * (1.0 - 0x1p-50);
    *high = e_hi / (e_hi + others_lo) * (1.0 + 0x1p-50);
}

static inline void ball_probability_bounds(double e_lo, double e_hi, double sum_lo, double sum_hi, double *p_lo,
                                           double *p_hi) {
    double denominator, low, high;
    ball_probability_quotients(e_lo, e_hi, sum_lo, sum_hi, &denominator, &low, &high);
    *p_lo = denominator > 0.0 ? low : 0.0;
    *p_hi = high < 1.0 ? high : 1.0;
}

/* The same bounds rounded outward to float. */
static inline void ball_probability_bounds_float(double e_lo, double e_hi, double sum_lo, double sum_hi, float *p_lo,
                                                 float *p_hi) {
    double denominator, low, high;
    ball_probability_quotients(e_lo, e_hi, sum_lo, sum_hi, &denominator, &low, &high);
    /* rounded, then chosen: a conversion after the choice would not vectorise */
    float low_float = ball_float_down(low), high_float = ball_float_up(high);
    *p_lo = denominator > 0.0 ? low_float : 0.0f;
    *p_hi = high < 1.0 ? high_float : 1.0f;
}

/* Widening a weight w to w [1 - R, 1 + R]: R for the names "bf16" (2^-8,
 * bfloat16's unit roundoff) and "f16" (2^-11), or a number >= 0 as text.
 * Returns 0 and sets *radius, or -1 for text that is neither. */
int ball_weight_radius_parse(const char *text, double *radius);

#endif
