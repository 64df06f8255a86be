/*
 * lens_stats_reference.h - the plain oracle for the lens statistics of
 * src/lens/lens_stats.h: one pass per quantity, each written as its
 * definition in docs/METRICS.md, accumulated in double. The tests hold the
 * lens kernel (src/lens/lens_fused.h) to it; it is no part of the library.
 *
 * Shapes: V = vocabulary size.
 */
#ifndef LOUPE_LENS_STATS_REFERENCE_H
#define LOUPE_LENS_STATS_REFERENCE_H

#include <stdint.h>

#include "lens/lens_stats.h"

/* A comparison distribution (the final row or the input row at one
 * position), as float arrays owned by the caller. */
typedef struct lens_reference {
    const float *log_probs; /* (V) log softmax of the row's logits; -inf only for a -inf logit */
    const float *probs;     /* (V) exp(log_probs) rounded to float */
} lens_reference;

/* Writes log_probs_out (V) = log softmax(logits (V)), computed in double
 * with the maximum subtracted before any exp, and probs_out (V) = the exp of
 * each stored float log-prob, so the pair describes one distribution up to
 * the float rounding of exp; returns a reference that points at them.
 * A -inf logit (a masked entry) has log-prob -inf and probability 0; other
 * log-probs below -FLT_MAX (a logit spread wider than the float range) are
 * stored as -FLT_MAX. Requires n_vocab >= 1. */
lens_reference lens_reference_compute(const float *logits, int n_vocab, float *log_probs_out,
                                      float *probs_out);

/* One lens row at one position. Token ids are -1 (absent) or in [0, V). */
typedef struct lens_row_request {
    const float *logits;     /* (V) this row's lens logits */
    lens_reference final;    /* the final row at the same position */
    lens_reference first;    /* the input row at the same position */
    int32_t target_id;       /* the true next token; -1 at the last position */
    int32_t input_id;        /* the token at this position */
    int32_t final_top_id;    /* the final row's top-1 token */
    int topk;                /* 1 .. LOUPE_LENS_MAX_TOPK; fewer are kept when V < topk */
} lens_row_request;

/*
 * Fills *out for request (logits and references of n_vocab entries each).
 * Requires n_vocab >= 1, topk in 1 .. LOUPE_LENS_MAX_TOPK, ids -1 or in
 * [0, n_vocab).
 *
 * A reference distribution is renormalised by the sum of its float probs
 * before the KLs are taken, so that a row compared with itself gives a KL
 * at the level of the float rounding of exp (< 1e-7). KL values that
 * rounding leaves below 0 are returned as 0; values beyond the float range
 * saturate at FLT_MAX.
 */
void lens_row_compute_reference(const lens_row_request *request, int n_vocab, lens_row_stats *out);

#endif
