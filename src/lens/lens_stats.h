/*
 * lens_stats.h - the statistics of one logit-lens row: top-k, ranks and
 * probabilities of chosen tokens, entropy, and KL divergences in both
 * directions against the final row and the input row.
 *
 * Shapes: V = vocabulary size. All logs are natural; entropy and KL in nats.
 * The definitions are those of docs/METRICS.md:
 *   p            = softmax(logits), via a max-subtracted log-sum-exp in double
 *   rank(v)      = 1 + #{u : logits[u] > logits[v]}   (ties do not push down)
 *   top-k        = the k largest logits, ties broken by smaller id first
 *   entropy      = -sum p log p
 *   kl_final     = KL(p_final || p)    kl_final_rev = KL(p || p_final)
 *   kl_first     = KL(p_first || p)    kl_first_rev = KL(p || p_first)
 * with 0 log 0 = 0. From finite logits no output is NaN or Inf.
 *
 * lens_fused.h computes them (the one kernel the lens runs);
 * tests/reference/lens_stats_reference.c is the plain oracle it is tested
 * against.
 */
#ifndef LOUPE_LENS_STATS_H
#define LOUPE_LENS_STATS_H

#include <stdint.h>

#include "loupe.h"

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

#endif
