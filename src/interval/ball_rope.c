/*
 * ball_rope.c - rotary embeddings on balls (see ball_rope.h).
 */
#include "interval/ball_rope.h"

#include <math.h>
#include <stddef.h>

#include "interval/ball.h"

void ball_rope_tables(const float *inv_freq, int half, int T, double *cos_table, double *sin_table) {
    for (int t = 0; t < T; t++)
        for (int i = 0; i < half; i++) {
            float angle = (float)t * inv_freq[i]; /* the network's angle, rounded to float as it computes it */
            cos_table[(size_t)t * half + i] = cos((double)angle);
            sin_table[(size_t)t * half + i] = sin((double)angle);
        }
}

/* One output of the rotation: a * c + sign * b * s for balls a, b and table
 * entries c, s (each within BALL_ROPE_TABLE_ERROR). */
static void rotate(double am, double ar, double bm, double br, double c, double s, double sign, double *mid,
                   float *rad) {
    double e = BALL_ROPE_TABLE_ERROR;
    double p = am * c, q = bm * s, y = p + sign * q; /* three roundings: 2^-52 (|p| + |q|) covers them */
    double r = ar * (fabs(c) + e) + fabs(am) * e + br * (fabs(s) + e) + fabs(bm) * e + 0x1p-51 * (fabs(p) + fabs(q));
    ball_set(y, r, mid, rad);
}

void ball_rope_apply(double *x_mid, float *x_rad, int T, int n_heads, int D, int half, const double *cos_table,
                     const double *sin_table) {
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++) {
        const double *c = cos_table + (size_t)t * half, *s = sin_table + (size_t)t * half;
        for (int h = 0; h < n_heads; h++) {
            double *m = x_mid + ((size_t)t * n_heads + h) * D;
            float *r = x_rad + ((size_t)t * n_heads + h) * D;
            for (int i = 0; i < half; i++) {
                double m1 = m[i], m2 = m[i + half], r1 = r[i], r2 = r[i + half];
                rotate(m1, r1, m2, r2, c[i], s[i], -1.0, &m[i], &r[i]);
                rotate(m2, r2, m1, r1, c[i], s[i], 1.0, &m[i + half], &r[i + half]);
            }
        }
    }
}
