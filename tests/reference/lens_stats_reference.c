/*
 * lens_stats_reference.c - the oracle of the lens statistics (see
 * lens_stats_reference.h): one pass per quantity, each written as its
 * definition, every log-probability formed explicitly.
 */
#include "lens_stats_reference.h"

#include <assert.h>
#include <float.h>
#include <math.h>

/* ------------------------------------------------------------------------
 * Reference distributions
 * ---------------------------------------------------------------------- */

/* value as a float, clamped to +-FLT_MAX so no finite input becomes Inf. */
static float float_saturated(double value) {
    if (value > FLT_MAX) return FLT_MAX;
    if (value < -FLT_MAX) return -FLT_MAX;
    return (float)value;
}

/* See lens_reference_compute. */
static void log_softmax(const float *logits, int n_vocab, float *log_probs, float *probs) {
    assert(n_vocab >= 1);
    float max_logit = logits[0];
    for (int v = 1; v < n_vocab; v++)
        if (logits[v] > max_logit) max_logit = logits[v];
    double partition = 0.0;
    for (int v = 0; v < n_vocab; v++) partition += exp((double)logits[v] - max_logit);
    double log_partition = log(partition);
    for (int v = 0; v < n_vocab; v++) {
        double log_prob = ((double)logits[v] - max_logit) - log_partition;
        /* A -inf logit keeps its -inf: the KL that gives it mass is then
         * infinite, as defined, not a large finite number. */
        log_probs[v] = logits[v] == -INFINITY ? -INFINITY : float_saturated(log_prob);
        /* The exp of the stored float, not of log_prob: probs and
         * log_probs then describe one distribution up to the rounding of
         * exp, which is what lets the renormalisation below cancel the
         * rounding of the log-probs. */
        probs[v] = (float)exp((double)log_probs[v]);
    }
}

lens_reference lens_reference_compute(const float *logits, int n_vocab, float *log_probs_out,
                                      float *probs_out) {
    log_softmax(logits, n_vocab, log_probs_out, probs_out);
    lens_reference reference = {log_probs_out, probs_out};
    return reference;
}

/* ------------------------------------------------------------------------
 * One row
 * ---------------------------------------------------------------------- */

/* The row's softmax, kept as its maximum and the log of the shifted
 * partition sum: adding the two would lose the small part next to logits
 * near 1e30. */
typedef struct row_softmax {
    double max_logit;
    double log_partition; /* log sum_v exp(logits[v] - max_logit) */
} row_softmax;

static row_softmax row_softmax_of(const float *logits, int n_vocab) {
    row_softmax softmax = {logits[0], 0.0};
    for (int v = 1; v < n_vocab; v++)
        if (logits[v] > softmax.max_logit) softmax.max_logit = logits[v];
    double partition = 0.0;
    for (int v = 0; v < n_vocab; v++) partition += exp((double)logits[v] - softmax.max_logit);
    softmax.log_partition = log(partition);
    return softmax;
}

/* log p(v) of the row. */
static double row_log_prob(const float *logits, const row_softmax *softmax, int32_t v) {
    return ((double)logits[v] - softmax->max_logit) - softmax->log_partition;
}

/* 1 + the number of logits strictly larger than logits[id]. */
static int32_t row_rank(const float *logits, int n_vocab, int32_t id) {
    int32_t rank = 1;
    for (int v = 0; v < n_vocab; v++)
        if (logits[v] > logits[id]) rank++;
    return rank;
}

/* Whether entry a comes before entry b in top-k order: larger logit first,
 * smaller id first among equal logits. */
static int ranks_before(const float *logits, int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
}

/* A KL or entropy bound to [0, FLT_MAX] as a float: below 0 only by rounding. */
static float clamp_non_negative(double value) {
    return (float)fmax(0.0, fmin(value, (double)FLT_MAX));
}

/* A reference renormalised by the sum of its float probs (see
 * lens_stats_reference.h): weights probs[v] / mass, log-probs log_probs[v] - log mass. */
typedef struct renormalised_reference {
    const lens_reference *reference;
    double mass;
    double log_mass;
} renormalised_reference;

static renormalised_reference renormalise(const lens_reference *reference, int n_vocab) {
    renormalised_reference renormalised = {reference, 0.0, 0.0};
    for (int v = 0; v < n_vocab; v++) renormalised.mass += reference->probs[v];
    renormalised.log_mass = log(renormalised.mass);
    return renormalised;
}

static double reference_prob(const renormalised_reference *reference, int32_t v) {
    return reference->reference->probs[v] / reference->mass;
}

static double reference_log_prob(const renormalised_reference *reference, int32_t v) {
    return (double)reference->reference->log_probs[v] - reference->log_mass;
}

/* KL(reference || row) = sum_v r(v) (log r(v) - log p(v)), skipping r(v) = 0. */
static double kl_reference_to_row(const lens_reference *reference, const float *logits,
                                  const row_softmax *softmax, int n_vocab) {
    renormalised_reference r = renormalise(reference, n_vocab);
    double divergence = 0.0;
    for (int32_t v = 0; v < n_vocab; v++) {
        if (reference_prob(&r, v) == 0.0) continue;
        divergence += reference_prob(&r, v) *
                      (reference_log_prob(&r, v) - row_log_prob(logits, softmax, v));
    }
    return divergence;
}

/* KL(row || reference) = sum_v p(v) (log p(v) - log r(v)), skipping p(v) = 0. */
static double kl_row_to_reference(const lens_reference *reference, const float *logits,
                                  const row_softmax *softmax, int n_vocab) {
    renormalised_reference r = renormalise(reference, n_vocab);
    double divergence = 0.0;
    for (int32_t v = 0; v < n_vocab; v++) {
        double log_p = row_log_prob(logits, softmax, v);
        double p = exp(log_p);
        if (p == 0.0) continue;
        divergence += p * (log_p - reference_log_prob(&r, v));
    }
    return divergence;
}

/* The entry of one token, or {-1, 0, 0, 0} for id -1. */
static loupe_lens_token token_entry(const float *logits, int n_vocab, int32_t id,
                                    const row_softmax *softmax) {
    loupe_lens_token token = {-1, 0.0f, 0.0f, 0, 0.0f};
    if (id < 0) return token;
    token.id = id;
    token.logit = logits[id];
    token.log_prob = (float)row_log_prob(logits, softmax, id);
    token.prob = (float)exp(row_log_prob(logits, softmax, id));
    token.rank = row_rank(logits, n_vocab, id);
    return token;
}

void lens_row_compute_reference(const lens_row_request *request, int n_vocab,
                                lens_row_stats *out) {
    assert(n_vocab >= 1);
    assert(request->topk >= 1 && request->topk <= LOUPE_LENS_MAX_TOPK);
    const float *logits = request->logits;
    row_softmax softmax = row_softmax_of(logits, n_vocab);

    /* Top-k by selection: each round takes the first entry, in top-k order,
     * that comes after the previous pick. */
    out->n_top = request->topk < n_vocab ? request->topk : n_vocab;
    for (int i = 0; i < out->n_top; i++) {
        int32_t best = -1;
        for (int32_t v = 0; v < n_vocab; v++) {
            if (i > 0 && !ranks_before(logits, out->top_ids[i - 1], v)) continue;
            if (best < 0 || ranks_before(logits, v, best)) best = v;
        }
        out->top_ids[i] = best;
        out->top_logits[i] = logits[best];
        out->top_probs[i] = (float)exp(row_log_prob(logits, &softmax, best));
    }

    out->target = token_entry(logits, n_vocab, request->target_id, &softmax);
    out->input = token_entry(logits, n_vocab, request->input_id, &softmax);
    out->final_top = token_entry(logits, n_vocab, request->final_top_id, &softmax);

    double entropy = 0.0;
    for (int32_t v = 0; v < n_vocab; v++) {
        double log_prob = row_log_prob(logits, &softmax, v);
        double prob = exp(log_prob);
        if (prob > 0.0) entropy -= prob * log_prob;
    }
    out->entropy = clamp_non_negative(entropy);

    out->kl_final = clamp_non_negative(
        kl_reference_to_row(&request->final, logits, &softmax, n_vocab));
    out->kl_final_rev = clamp_non_negative(
        kl_row_to_reference(&request->final, logits, &softmax, n_vocab));
    out->kl_first = clamp_non_negative(
        kl_reference_to_row(&request->first, logits, &softmax, n_vocab));
    out->kl_first_rev = clamp_non_negative(
        kl_row_to_reference(&request->first, logits, &softmax, n_vocab));
}
