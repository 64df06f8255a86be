/*
 * lens_stats.c - the fast logit-lens row kernel (see lens_stats.h).
 *
 * Two passes over a row of V logits:
 *   pass 1 (float compares only, in chunks the compiler vectorises): the
 *          top-k list, kept sorted by insertion (it also yields the
 *          maximum), and the three rank counts;
 *   pass 2 (one exp per entry, taken 64 at a time ahead of a vectorised
 *          loop): the partition sum and every sum the entropy and the four
 *          KLs need, combined afterwards.
 * Every sum is accumulated on logits shifted by the row maximum (y <= 0), so
 * the closed forms below cancel nothing larger than log V plus the result.
 */
#include "lens/lens_stats.h"

#include <assert.h>
#include <float.h>
#include <math.h>

/* Entries of pass 1 handled per vectorised block; a block is rescanned one
 * entry at a time only when its maximum could enter the top-k list. */
enum { LENS_STATS_SCAN_BLOCK = 16 };

/* Entries of pass 2 whose exps are taken before their sums. */
enum { LENS_STATS_EXP_BLOCK = 64 };

/* exp(y) is exactly 0 in double for every y below this (the smallest
 * subnormal is e^-744.44; exp(-746) rounds to 0). */
#define LENS_STATS_EXP_UNDERFLOW (-746.0)

/* ------------------------------------------------------------------------
 * Shared helpers
 * ---------------------------------------------------------------------- */

/* value as a float, clamped to +-FLT_MAX so no finite input becomes Inf. */
static float float_saturated(double value) {
    if (value > FLT_MAX) return FLT_MAX;
    if (value < -FLT_MAX) return -FLT_MAX;
    return (float)value;
}

float lens_float_non_negative(double value) {
    return value > 0.0 ? float_saturated(value) : 0.0f;
}

/* ------------------------------------------------------------------------
 * Reference distributions
 * ---------------------------------------------------------------------- */

void lens_log_softmax(const float *logits, int n_vocab, float *log_probs, float *probs) {
    assert(n_vocab >= 1);
    float max_logit = logits[0];
    for (int v = 1; v < n_vocab; v++)
        if (logits[v] > max_logit) max_logit = logits[v];
    double partition = 0.0;
    for (int v = 0; v < n_vocab; v++) partition += exp((double)logits[v] - max_logit);
    double log_partition = log(partition);
    for (int v = 0; v < n_vocab; v++) {
        double log_prob = ((double)logits[v] - max_logit) - log_partition;
        log_probs[v] = float_saturated(log_prob);
        /* The exp of the stored float, not of log_prob: probs and
         * log_probs then describe one distribution up to the rounding of
         * exp, which is what lets the kernel's renormalisation cancel the
         * rounding of the log-probs. */
        if (probs != NULL) probs[v] = (float)exp((double)log_probs[v]);
    }
}

lens_reference lens_reference_compute(const float *logits, int n_vocab, float *log_probs_out,
                                      float *probs_out) {
    lens_log_softmax(logits, n_vocab, log_probs_out, probs_out);
    lens_reference reference = {log_probs_out, probs_out};
    return reference;
}

/* ------------------------------------------------------------------------
 * Pass 1: top-k and rank counts
 * ---------------------------------------------------------------------- */

/* The top-k list being built in out->top_ids / out->top_logits, sorted by
 * logit descending, equal logits in id order. */
typedef struct top_list {
    int32_t *ids;    /* (capacity) */
    float *logits;   /* (capacity) */
    int count;
    int capacity;
} top_list;

/* Inserts (logit, id). Ids arrive in increasing order, so an equal logit
 * goes after the entries already there; the caller only offers entries
 * that beat the last one when the list is full. */
static void top_list_insert(top_list *top, float logit, int32_t id) {
    int position = top->count < top->capacity ? top->count++ : top->capacity - 1;
    while (position > 0 && top->logits[position - 1] < logit) {
        top->logits[position] = top->logits[position - 1];
        top->ids[position] = top->ids[position - 1];
        position--;
    }
    top->logits[position] = logit;
    top->ids[position] = id;
}

/* Offers entries [begin, end) of logits to the list one at a time. */
static void top_list_scan(top_list *top, const float *logits, int begin, int end) {
    for (int v = begin; v < end; v++)
        if (top->count < top->capacity || logits[v] > top->logits[top->capacity - 1])
            top_list_insert(top, logits[v], v);
}

/* The logit a rank is counted against: +inf for an absent token, so that
 * nothing counts as larger. */
static float rank_logit(const float *logits, int32_t id) {
    return id >= 0 ? logits[id] : INFINITY;
}

/* ------------------------------------------------------------------------
 * The kernel
 * ---------------------------------------------------------------------- */

/* A token's entry, from its rank count and the row's log-partition. */
static loupe_lens_token token_stats(const float *logits, int32_t id, int32_t larger_count,
                                    double max_logit, double log_partition) {
    loupe_lens_token token = {-1, 0.0f, 0.0f, 0};
    if (id < 0) return token;
    token.id = id;
    token.logit = logits[id];
    token.prob = (float)exp(((double)logits[id] - max_logit) - log_partition);
    token.rank = larger_count + 1;
    return token;
}

void lens_row_compute(const lens_row_request *request, int n_vocab, lens_row_stats *out) {
    assert(n_vocab >= 1);
    assert(request->topk >= 1 && request->topk <= LOUPE_LENS_MAX_TOPK);
    assert(request->target_id >= -1 && request->target_id < n_vocab);
    assert(request->input_id >= -1 && request->input_id < n_vocab);
    assert(request->final_top_id >= -1 && request->final_top_id < n_vocab);
    const float *logits = request->logits;

    /* Pass 1. */
    top_list top = {out->top_ids, out->top_logits, 0,
                    request->topk < n_vocab ? request->topk : n_vocab};
    const float target_logit = rank_logit(logits, request->target_id);
    const float input_logit = rank_logit(logits, request->input_id);
    const float final_top_logit = rank_logit(logits, request->final_top_id);
    int32_t above_target = 0, above_input = 0, above_final_top = 0;
    int block_end = n_vocab - n_vocab % LENS_STATS_SCAN_BLOCK;
    for (int base = 0; base < block_end; base += LENS_STATS_SCAN_BLOCK) {
        const float *block = logits + base;
        float block_max = block[0];
        int32_t block_above_target = 0, block_above_input = 0, block_above_final_top = 0;
#pragma omp simd reduction(max : block_max) \
    reduction(+ : block_above_target, block_above_input, block_above_final_top)
        for (int i = 0; i < LENS_STATS_SCAN_BLOCK; i++) {
            block_max = block[i] > block_max ? block[i] : block_max;
            block_above_target += block[i] > target_logit;
            block_above_input += block[i] > input_logit;
            block_above_final_top += block[i] > final_top_logit;
        }
        above_target += block_above_target;
        above_input += block_above_input;
        above_final_top += block_above_final_top;
        if (top.count < top.capacity || block_max > top.logits[top.capacity - 1])
            top_list_scan(&top, logits, base, base + LENS_STATS_SCAN_BLOCK);
    }
    for (int v = block_end; v < n_vocab; v++) {
        above_target += logits[v] > target_logit;
        above_input += logits[v] > input_logit;
        above_final_top += logits[v] > final_top_logit;
    }
    top_list_scan(&top, logits, block_end, n_vocab);
    out->n_top = top.count;
    const double max_logit = top.logits[0];

    /* Pass 2. With y = logit - max, q = e^y / Z the row, p~ = p / S a
     * reference renormalised by its float probs:
     *   entropy        = log Z - sum e^y y / Z
     *   KL(p~ || q)    = sum p (log p - y) / S - log S + log Z
     *   KL(q || p~)    = sum e^y (y - log p) / Z - log Z + log S
     * A term whose probability is 0 is 0 (0 log 0 = 0). */
    const float *final_log_probs = request->final.log_probs, *final_probs = request->final.probs;
    const float *first_log_probs = request->first.log_probs, *first_probs = request->first.probs;
    double partition = 0.0, weighted_shift = 0.0;
    double final_mass = 0.0, final_forward = 0.0, final_reverse = 0.0;
    double first_mass = 0.0, first_forward = 0.0, first_reverse = 0.0;
    /* The exps of a block go to a small buffer first: a loop that calls exp
     * would have to keep its seven sums in memory across every call, one
     * that does not keeps them in registers and is vectorised. */
    double weights[LENS_STATS_EXP_BLOCK];
    for (int base = 0; base < n_vocab; base += LENS_STATS_EXP_BLOCK) {
        const int count =
            n_vocab - base < LENS_STATS_EXP_BLOCK ? n_vocab - base : LENS_STATS_EXP_BLOCK;
        const float *block = logits + base;
        for (int i = 0; i < count; i++) {
            double shifted = (double)block[i] - max_logit;
            /* Below the underflow bound exp is exactly 0, and glibc's exp
             * takes a slow path (errno) to say so: answer directly. */
            weights[i] = shifted < LENS_STATS_EXP_UNDERFLOW ? 0.0 : exp(shifted);
        }
        const float *final_log = final_log_probs + base, *final_prob = final_probs + base;
        const float *first_log = first_log_probs + base, *first_prob = first_probs + base;
#pragma omp simd reduction(+ : partition, weighted_shift, final_mass, final_forward, \
                               final_reverse, first_mass, first_forward, first_reverse)
        for (int i = 0; i < count; i++) {
            /* A -inf logit would make 0 * -inf = NaN where 0 log 0 = 0 is
             * meant; bounding it keeps every term finite, so each sum can
             * be taken without branches. */
            double shifted = (double)block[i] - max_logit;
            shifted = shifted > -DBL_MAX ? shifted : -DBL_MAX;
            double weight = weights[i];
            partition += weight;
            weighted_shift += weight * shifted;
            final_reverse += weight * (shifted - final_log[i]);
            first_reverse += weight * (shifted - first_log[i]);
            final_mass += final_prob[i];
            final_forward += final_prob[i] * (final_log[i] - shifted);
            first_mass += first_prob[i];
            first_forward += first_prob[i] * (first_log[i] - shifted);
        }
    }
    const double log_partition = log(partition);
    const double log_final_mass = log(final_mass), log_first_mass = log(first_mass);

    for (int i = 0; i < top.count; i++)
        out->top_probs[i] = (float)exp(((double)top.logits[i] - max_logit) - log_partition);
    out->target = token_stats(logits, request->target_id, above_target, max_logit, log_partition);
    out->input = token_stats(logits, request->input_id, above_input, max_logit, log_partition);
    out->final_top = token_stats(logits, request->final_top_id, above_final_top, max_logit,
                                 log_partition);
    out->entropy = lens_float_non_negative(log_partition - weighted_shift / partition);
    out->kl_final = lens_float_non_negative(final_forward / final_mass - log_final_mass + log_partition);
    out->kl_final_rev =
        lens_float_non_negative(final_reverse / partition - log_partition + log_final_mass);
    out->kl_first = lens_float_non_negative(first_forward / first_mass - log_first_mass + log_partition);
    out->kl_first_rev =
        lens_float_non_negative(first_reverse / partition - log_partition + log_first_mass);
}
