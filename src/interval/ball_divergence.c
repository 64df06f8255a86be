/*
 * ball_divergence.c - the entropy and KL bounds of softmax rows (see
 * ball_divergence.h). log p_j = s_j - LSE lies in
 * [lo_j - z[1], min(0, hi_j - z[0])] for the logit bounds [lo_j, hi_j];
 * each sum's terms are bounded from those and the probability bounds, and
 * the sums' own rounding is bounded by gamma_n (ball.h). No transcendental
 * function runs per token: the cost is a few operations per token.
 */
#include "interval/ball_divergence.h"

#include <math.h>

#include "interval/ball.h"

/* a - b rounded down (up): one subtraction's rounding, 2^-53 of its
 * result, widened by 2^-52. */
static inline double sub_down(double a, double b) {
    double d = a - b;
    return d - fabs(d) * 0x1p-52;
}

static inline double sub_up(double a, double b) {
    double d = a - b;
    return d + fabs(d) * 0x1p-52;
}

void ball_log_normaliser(double shift, double sum_lo, double sum_hi, double z[2]) {
    z[0] = -INFINITY, z[1] = INFINITY;
    if (!isfinite(shift)) return;
    /* glibc's log errs below 1 ulp: widened by 8 ulps (2^-49 of the result) */
    if (sum_lo > 0.0 && isfinite(sum_lo)) {
        double l = log(sum_lo);
        z[0] = sub_down(shift, -(l - fabs(l) * 0x1p-49));
    }
    if (sum_hi > 0.0 && isfinite(sum_hi)) {
        double l = log(sum_hi);
        z[1] = sub_up(shift, -(l + fabs(l) * 0x1p-49));
    }
}

/* Bounds of log p_j of the row: [lo_j - z[1], min(0, hi_j - z[0])]. */
static inline void log_probability(const ball_softmax_row *row, int j, double *lo, double *hi) {
    double s_lo, s_hi;
    ball_bounds(row->mid[j], row->rad[j], &s_lo, &s_hi);
    *lo = sub_down(s_lo, row->z[1]);
    double h = sub_up(s_hi, row->z[0]);
    *hi = h < 0.0 ? h : 0.0;
}

static int known(const ball_softmax_row *row) { return isfinite(row->z[0]) && isfinite(row->z[1]); }

void ball_entropy_bounds(const ball_softmax_row *row, int V, float out[2]) {
    /* H <= log V exactly; log's 1 ulp widened */
    double ceiling = log((double)V) * (1.0 + 0x1p-49);
    out[0] = 0.0f, out[1] = ball_float_up(ceiling);
    if (!known(row)) return;
    /* -p log p: p in [p_lo, p_hi], -log p in [-hi, -lo], all nonnegative: a
     * nonnegative chain of V + 1 roundings per sum (the product, the sum) */
    double sum_lo = 0.0, sum_hi = 0.0;
    /* any order of summation: the chain bound does not depend on it */
#pragma omp simd reduction(+ : sum_lo, sum_hi)
    for (int j = 0; j < V; j++) {
        double lp_lo, lp_hi;
        log_probability(row, j, &lp_lo, &lp_hi);
        sum_lo += (double)row->p_lo[j] * -lp_hi;
        sum_hi += (double)row->p_hi[j] * -lp_lo;
    }
    double lo = ball_chain_lower(sum_lo, V + 1), hi = ball_chain_upper(sum_hi, V + 1);
    if (lo > 0.0) out[0] = ball_float_down(lo);
    if (hi < ceiling) out[1] = ball_float_up(hi);
}

void ball_kl_bounds(const ball_softmax_row *p, const ball_softmax_row *q, int V, float out[2]) {
    out[0] = 0.0f, out[1] = INFINITY;
    if (!known(p) || !known(q)) return;
    /* term j: p_j d_j with p_j in [p_lo, p_hi] >= 0 and d_j = log p_j - log q_j
     * in [d_lo, d_hi]; each term's bounds rounded outward, then summed with
     * |fl(sum) - sum| <= gamma_V sum |terms| */
    double low = 0.0, high = 0.0, low_abs = 0.0, high_abs = 0.0;
    /* any order of summation: gamma_V bounds every order */
#pragma omp simd reduction(+ : low, high, low_abs, high_abs)
    for (int j = 0; j < V; j++) {
        double p_lo_log, p_hi_log, q_lo_log, q_hi_log;
        log_probability(p, j, &p_lo_log, &p_hi_log);
        log_probability(q, j, &q_lo_log, &q_hi_log);
        double d_lo = sub_down(p_lo_log, q_hi_log), d_hi = sub_up(p_hi_log, q_lo_log);
        double w_lo = d_lo >= 0.0 ? p->p_lo[j] : p->p_hi[j], w_hi = d_hi >= 0.0 ? p->p_hi[j] : p->p_lo[j];
        double t_lo = w_lo * d_lo, t_hi = w_hi * d_hi;
        t_lo -= fabs(t_lo) * 0x1p-52;
        t_hi += fabs(t_hi) * 0x1p-52;
        low += t_lo, high += t_hi;
        low_abs += fabs(t_lo), high_abs += fabs(t_hi);
    }
    double g = ball_gamma(V, BALL_DOUBLE_UNIT);
    double lo = sub_down(low, g * ball_chain_upper(low_abs, V) * (1.0 + 0x1p-51));
    double hi = sub_up(high, -(g * ball_chain_upper(high_abs, V) * (1.0 + 0x1p-51)));
    if (lo > 0.0) out[0] = ball_float_down(lo);
    if (isfinite(hi)) out[1] = ball_float_up(hi > 0.0 ? hi : 0.0);
}
