/*
 * ball_norms.c - LayerNorm and RMSNorm on balls, one row per thread
 * (derivations in docs/CERTIFY.md, "Norms").
 */
#include "interval/ball_norms.h"

#include <math.h>
#include <stddef.h>

#include "interval/ball.h"

/* The interval [lo, hi] of x^2 for x in the ball (m, r): nonnegative. */
static void square_bounds(double m, double r, double *lo, double *hi) {
    double a = fabs(m);
    double low = a > r ? a - r : 0.0;
    *lo = ball_chain_lower(low * low, 2);
    *hi = ball_chain_upper((a + r) * (a + r), 2);
}

/* [s_lo, s_hi] containing 1 / sqrt(v + eps) for v in [v_lo, v_hi], from
 * the sums of C squares' bounds sum_lo, sum_hi (v = sum / C): C additions
 * and the division, then the addition, sqrt and quotient. */
static void inverse_root_bounds(double sum_lo, double sum_hi, int C, double eps, double *s_lo, double *s_hi) {
    double v_lo = ball_chain_lower(sum_lo / C, C + 1), v_hi = ball_chain_upper(sum_hi / C, C + 1);
    *s_lo = ball_chain_lower(1.0 / sqrt(v_hi + eps), 3);
    *s_hi = ball_chain_upper(1.0 / sqrt(v_lo + eps), 3);
}

/* One output: the ball (dm, dr) times the interval [s_lo, s_hi], times the
 * weight w (1 +- R) (scaled by `scale` = offset + w), plus bias b (1 +- R). */
static void scale_shift(double dm, double dr, double s_lo, double s_hi, double scale, double b, double R,
                        double *out_mid, float *out_rad) {
    double sm = 0.5 * (s_lo + s_hi), sr = fmax(s_hi - sm, sm - s_lo) * BALL_CHAIN_UP;
    double p = dm * sm;                                        /* rounding: 2^-53 |p| */
    double pr = fabs(dm) * sr + dr * sm + dr * sr + 0x1p-53 * fabs(p);
    double q = p * scale;
    double qr = pr * fabs(scale) * (1.0 + R) + R * fabs(q) + 0x1p-53 * fabs(q);
    double y = q + b;
    double yr = qr + R * fabs(b) + 0x1p-53 * fabs(y);
    ball_set(y, yr, out_mid, out_rad);
}

void ball_layer_norm(double *out_mid, float *out_rad, const double *in_mid, const float *in_rad, const float *weight,
                     const float *bias, int N, int C, float eps, double weight_radius) {
    double gamma_c = ball_gamma(C, BALL_DOUBLE_UNIT);
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const double *xm = in_mid + (size_t)n * C;
        const float *xr = in_rad + (size_t)n * C;
        double *ym = out_mid + (size_t)n * C;
        float *yr = out_rad + (size_t)n * C;
        double sum = 0.0, magnitude = 0.0, radius_sum = 0.0;
        for (int c = 0; c < C; c++) {
            sum += xm[c];
            magnitude += fabs(xm[c]);
            radius_sum += xr[c];
        }
        double mean = sum / C;
        /* the mean's ball: the midpoints' sum errs by gamma_C sum |m| (and
         * the division by 2^-53), the radii average */
        double mean_rad = (gamma_c * magnitude + radius_sum) / C * BALL_CHAIN_UP + 0x1p-53 * fabs(mean);
        double v_lo = 0.0, v_hi = 0.0;
        for (int c = 0; c < C; c++) {
            double d = xm[c] - mean;
            double dr = (xr[c] + mean_rad + 0x1p-53 * fabs(d)) * BALL_CHAIN_UP;
            double lo, hi;
            square_bounds(d, dr, &lo, &hi);
            v_lo += lo;
            v_hi += hi;
        }
        double s_lo, s_hi;
        inverse_root_bounds(v_lo, v_hi, C, (double)eps, &s_lo, &s_hi);
        for (int c = 0; c < C; c++) {
            double d = xm[c] - mean;
            double dr = (xr[c] + mean_rad + 0x1p-53 * fabs(d)) * BALL_CHAIN_UP;
            scale_shift(d, dr, s_lo, s_hi, weight[c], bias[c], weight_radius, &ym[c], &yr[c]);
        }
    }
}

void ball_rms_norm(double *out_mid, float *out_rad, const double *in_mid, const float *in_rad, const float *weight,
                   float weight_offset, int N, int C, float eps, double weight_radius) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const double *xm = in_mid + (size_t)n * C;
        const float *xr = in_rad + (size_t)n * C;
        double *ym = out_mid + (size_t)n * C;
        float *yr = out_rad + (size_t)n * C;
        double v_lo = 0.0, v_hi = 0.0;
        for (int c = 0; c < C; c++) {
            double lo, hi;
            square_bounds(xm[c], xr[c], &lo, &hi);
            v_lo += lo;
            v_hi += hi;
        }
        double s_lo, s_hi;
        inverse_root_bounds(v_lo, v_hi, C, (double)eps, &s_lo, &s_hi);
        /* offset + w rounds once in double: 2^-53 more of relative width */
        double R = weight_offset != 0.0f ? weight_radius + 0x1p-52 : weight_radius;
        for (int c = 0; c < C; c++)
            scale_shift(xm[c], xr[c], s_lo, s_hi, (double)weight_offset + weight[c], 0.0, R, &ym[c], &yr[c]);
    }
}
