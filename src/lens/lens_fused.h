/*
 * lens_fused.h - the lens statistics of every row at one position, taken in
 * one online pass over chunks of the vocabulary while each chunk of the
 * projection is still in cache.
 *
 * Shapes: R rows (row 0 the input row, row R-1 the final row), V vocabulary,
 * N entries in a chunk. The statistics are those of lens_stats.h
 * (docs/METRICS.md); tests/reference/lens_stats_reference.c is the oracle
 * the tests hold this kernel to. How:
 *   - each row keeps a running maximum m and, on logits shifted by it, the
 *     partition sum Z = sum e^(y-m) and S = sum e^(y-m) (y-m) (entropy); a
 *     new chunk with a larger maximum rescales them by e^(m_old - m_new);
 *   - KL(row || ref) needs H = sum e^(y-m) (y_ref - m_ref), and KL(ref || row)
 *     J = sum e^(y_ref - m_ref) (y - m): every logit is shifted by its own
 *     row's maximum before two rows meet, so rows far from 0 (1e30) against
 *     rows near it lose nothing to cancellation; both move with either
 *     maximum, and at the end
 *       KL(row || ref) = (S - H) / Z - log Z + log Z_ref
 *       KL(ref || row) = (S_ref - J) / Z_ref - log Z_ref + log Z
 *   - a -inf logit (a masked entry) has probability 0; a KL it makes
 *     infinite saturates at FLT_MAX;
 *   - ranks count the entries strictly above each token's logit, which is
 *     known beforehand (the caller computes it with the same kernel as the
 *     projection; the pass checks it against the value it sees, and reports
 *     a mismatch so the caller can recount);
 *   - top-k is merged chunk by chunk, ties to the smaller id.
 * A row's state after all chunks is independent of how the chunks were
 * grouped only up to rounding; callers that split the vocabulary into fixed
 * stripes and merge them in order get results independent of thread count.
 */
#ifndef LOUPE_LENS_FUSED_H
#define LOUPE_LENS_FUSED_H

#include <stdbool.h>
#include <stdint.h>

#include "lens/lens_stats.h"

enum { LENS_TOKEN_TARGET = 0, LENS_TOKEN_INPUT = 1, LENS_TOKEN_FINAL_TOP = 2, LENS_TOKEN_COUNT = 3 };

/* The running statistics of one row at one position over the vocabulary
 * entries seen so far. */
typedef struct lens_row_state {
    double max_logit;      /* m: the largest logit seen; -inf before any */
    double partition;      /* Z = sum e^(y-m) */
    double shifted_sum;    /* S = sum e^(y-m) (y-m) */
    double final_by_row;   /* H vs the final row: sum e^(y-m) (y_final - m_final) */
    double first_by_row;   /* H vs the input row */
    double row_by_final;   /* J vs the final row: sum e^(y_final - m_final) (y - m) */
    double row_by_first;   /* J vs the input row */
    float token_threshold[LENS_TOKEN_COUNT]; /* the tokens' expected logits; +inf when absent */
    int32_t token_id[LENS_TOKEN_COUNT];      /* -1 when absent */
    int32_t above[LENS_TOKEN_COUNT];         /* entries strictly above the threshold */
    float token_logit[LENS_TOKEN_COUNT];     /* the logit seen for the token */
    bool token_seen[LENS_TOKEN_COUNT];
    int top_count;
    int top_capacity;                        /* K */
    float top_floor;                         /* entries below it are never offered to the top list
                                                (lens_row_state_set_floor); -inf by default */
    int32_t top_ids[LOUPE_LENS_MAX_TOPK];    /* (top_count) largest first, ties by id */
    float top_logits[LOUPE_LENS_MAX_TOPK];   /* (top_count) */
} lens_row_state;

/* Starts a row's state: no entries seen. ids are -1 or < V; thresholds the
 * tokens' logits (ignored for id -1); topk 1 .. LOUPE_LENS_MAX_TOPK. */
void lens_row_state_begin(lens_row_state *state, const int32_t token_id[LENS_TOKEN_COUNT],
                          const float token_threshold[LENS_TOKEN_COUNT], int topk);

/* Lets the top list skip every entry below floor: floor must not exceed
 * the row's K-th largest logit (K = the state's topk), e.g. the K-th
 * largest logit of K distinct entries of the row known in advance. The
 * top list is then the same as without it; only fewer entries reach it.
 * Call after lens_row_state_begin, before any chunk. */
void lens_row_state_set_floor(lens_row_state *state, float floor);

/* Folds entries vocab_begin .. vocab_begin + n - 1 of every row at one
 * position into states (R). Rows 0 .. R-2 are read from logits, (R-1, n)
 * with rows `stride` floats apart (row 0 the input row); the final row, R-1,
 * from final_logits (n), which may lie anywhere (with R = 1 the input row
 * is the final row and logits is not read). scratch holds 2 n doubles.
 * Requires R >= 1 and n >= 1; entries must come in increasing vocabulary
 * order for each state (chunks of one stripe in order). */
void lens_fused_chunk(lens_row_state *states, int n_rows, const float *logits, int stride,
                      const float *final_logits, int vocab_begin, int n, double *scratch);

/* Merges `later` (entries after those of `state`, same rows) into states
 * (R) in place, row by row; the reference rows are 0 and R-1 as above. */
void lens_fused_merge(lens_row_state *states, const lens_row_state *later, int n_rows);

/* The statistics of row `row` from the finished states (R) of its position.
 * A token whose seen logit differs from its threshold is reported in
 * *recount_mask (bit k for token k): its rank must be recounted by the
 * caller; everything else in *out is final. */
void lens_fused_finish(const lens_row_state *states, int n_rows, int row, lens_row_stats *out,
                       unsigned *recount_mask);

#endif
