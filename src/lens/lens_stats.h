/*
 * lens_stats.h - the statistics of one logit-lens row: top-k, ranks and
 * probabilities of chosen tokens, entropy, and KL divergences in both
 * directions against the final row and the input row.
 *
 * Shapes: V = vocabulary size. All logs are natural; entropy and KL in nats.
 * The definitions follow docs/LOGIT_LENS.md:
 *   p            = softmax(logits), via a max-subtracted log-sum-exp in double
 *   rank(v)      = 1 + #{u : logits[u] > logits[v]}   (ties do not push down)
 *   top-k        = the k largest logits, ties broken by smaller id first
 *   entropy      = -sum p log p
 *   kl_final     = KL(p_final || p)    kl_final_rev = KL(p || p_final)
 *   kl_first     = KL(p_first || p)    kl_first_rev = KL(p || p_first)
 * with 0 log 0 = 0. From finite logits no output is NaN or Inf.
 *
 * How a caller uses it: per position, turn the final row's and the input
 * row's logits into a lens_reference once (lens_reference_compute), then call
 * lens_row_compute for every lens row at that position. The reference holds
 * probabilities next to log-probabilities so that each row needs only one
 * exp per vocabulary entry, not three.
 *
 * lens_row_compute is the fast kernel (two passes over the row, no
 * allocation, reentrant: rows may be computed on several threads at once);
 * lens_row_compute_reference is its plain multi-pass twin, kept as the
 * oracle the tests compare it with. Both give the same ids and ranks and
 * agree to about 1e-6 relative on probabilities and KLs.
 */
#ifndef LOUPE_LENS_STATS_H
#define LOUPE_LENS_STATS_H

#include <stdint.h>

#include "loupe.h"

/* A comparison distribution (the final row or the input row at one
 * position), as float arrays owned by the caller. */
typedef struct lens_reference {
    const float *log_probs; /* (V) log softmax of the row's logits, each >= -FLT_MAX */
    const float *probs;     /* (V) exp(log_probs) rounded to float */
} lens_reference;

/* Writes log_probs (V) = log softmax(logits (V)), computed in double with
 * the maximum subtracted before any exp, and probs (V) = the exp of each
 * stored float log-prob, so the pair describes one distribution up to the
 * float rounding of exp. Log-probs below -FLT_MAX (a logit spread wider
 * than the float range, or a -inf logit) are stored as -FLT_MAX, so they
 * stay finite; their probability is 0. Requires n_vocab >= 1; probs may be
 * NULL when only log-probs are wanted. */
void lens_log_softmax(const float *logits, int n_vocab, float *log_probs, float *probs);

/* lens_log_softmax into the caller's two buffers, returned as a reference
 * that points at them. */
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

/* The statistics of one row. */
typedef struct lens_row_stats {
    int32_t top_ids[LOUPE_LENS_MAX_TOPK];  /* (n_top) largest logit first */
    float top_logits[LOUPE_LENS_MAX_TOPK]; /* (n_top) */
    float top_probs[LOUPE_LENS_MAX_TOPK];  /* (n_top) */
    int n_top;                             /* min(topk, V) */
    loupe_lens_token target;    /* {-1, 0, 0, 0} when the id is -1 */
    loupe_lens_token input;     /* likewise */
    loupe_lens_token final_top; /* likewise */
    float entropy;       /* nats, >= 0 */
    float kl_final;      /* KL(p_final || p_row) >= 0 */
    float kl_final_rev;  /* KL(p_row || p_final) >= 0 */
    float kl_first;      /* KL(p_first || p_row) >= 0 */
    float kl_first_rev;  /* KL(p_row || p_first) >= 0 */
} lens_row_stats;

/*
 * Fills *out for request (logits and references of n_vocab entries each).
 * Requires n_vocab >= 1, topk in 1 .. LOUPE_LENS_MAX_TOPK, ids -1 or in
 * [0, n_vocab) (asserted: they are checked before they reach this kernel).
 *
 * A reference distribution is renormalised by the sum of its float probs
 * before the KLs are taken: then a row compared with itself gives a KL at
 * the level of the float rounding of exp (< 1e-7), not of the rounding of
 * the log-probs (up to ~5e-7 on a 50257-token vocabulary). KL values that
 * rounding leaves below 0 are returned as 0; values beyond the float range
 * (only when logits span more than FLT_MAX) saturate at FLT_MAX.
 */
void lens_row_compute(const lens_row_request *request, int n_vocab, lens_row_stats *out);

/* A non-negative quantity (entropy, KL) whose rounding may fall just below
 * zero, as a float in [0, FLT_MAX]. */
float lens_float_non_negative(double value);

/* The same contract as lens_row_compute, written as one plain pass per
 * quantity; slower, for tests and benchmarks. */
void lens_row_compute_reference(const lens_row_request *request, int n_vocab,
                                lens_row_stats *out);

#endif
