/*
 * ball_norms.h - LayerNorm and RMSNorm on balls.
 *
 * Per row of C balls x: LayerNorm's mean and centred values d = x - mean
 * as balls, the variance as an interval of the squares' bounds, the inverse
 * standard deviation 1 / sqrt(var + eps) as an interval (monotone), then
 * y = d s w + b with the weight and bias widened to [1 - R, 1 + R]. RMSNorm
 * skips the centring and multiplies by (offset + w). eps is the float the
 * model computes with, taken as exact. Shapes: N rows of C.
 */
#ifndef LOUPE_INTERVAL_BALL_NORMS_H
#define LOUPE_INTERVAL_BALL_NORMS_H

/* out (N, C) = LayerNorm(in) as balls; out may not overlap in. */
void ball_layer_norm(double *out_mid, float *out_rad, const double *in_mid, const float *in_rad, const float *weight,
                     const float *bias, int N, int C, float eps, double weight_radius);

/* out (N, C) = RMSNorm(in) x (weight_offset + weight) as balls; out may
 * equal in (row by row). */
void ball_rms_norm(double *out_mid, float *out_rad, const double *in_mid, const float *in_rad, const float *weight,
                   float weight_offset, int N, int C, float eps, double weight_radius);

#endif
