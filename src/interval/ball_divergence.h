/*
 * ball_divergence.h - rigorous bounds of a softmax row's log-normaliser,
 * entropy and KL divergences from its logits as balls (docs/INTERVALS.md,
 * "Entropy and KL"). Every bound is computed in double and rounded
 * outward, so it contains the value of exact real arithmetic on any logits
 * inside the balls. Shapes: V vocabulary.
 */
#ifndef LOUPE_INTERVAL_BALL_DIVERGENCE_H
#define LOUPE_INTERVAL_BALL_DIVERGENCE_H

/* One row's softmax, bounded: the logits (mid, rad) (V), the bounds of
 * log sum_j e^(s_j) (z[0] <= LSE <= z[1], +-inf where unknown), and each
 * token's probability bounds p_lo[j] <= p_j <= p_hi[j]. */
typedef struct ball_softmax_row {
    const double *mid; /* (V) */
    const float *rad;  /* (V) */
    double z[2];
    const float *p_lo, *p_hi; /* (V) */
} ball_softmax_row;

/* Bounds of LSE = shift + log S from bounds sum_lo <= S <= sum_hi of
 * S = sum_j e^(s_j - shift) (libm's log, widened): z[0] <= LSE <= z[1];
 * -inf / +inf where a bound is 0 or infinite. */
void ball_log_normaliser(double shift, double sum_lo, double sum_hi, double z[2]);

/* Bounds of the entropy -sum_j p_j log p_j of the row (V tokens), in
 * [0, log V]: out[0] <= H <= out[1]. */
void ball_entropy_bounds(const ball_softmax_row *row, int V, float out[2]);

/* Bounds of KL(P || Q) = sum_j p_j (log p_j - log q_j) of the rows p and q
 * (V tokens), clamped below at 0: out[0] <= KL <= out[1]; [0, +inf] where
 * a normaliser is unknown. */
void ball_kl_bounds(const ball_softmax_row *p, const ball_softmax_row *q, int V, float out[2]);

#endif
