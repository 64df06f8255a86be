/*
 * lens_fused.c - the one-pass lens statistics of a position's rows over
 * vocabulary chunks (see lens_fused.h).
 *
 * Per chunk and row: a float pass (maximum, rank counts, top-k candidates,
 * the tokens' logits), then a double pass (one exp per entry and the six
 * sums). Both passes have two bodies: AVX-512 intrinsics, chosen at run
 * time when the CPU has them, and plain C with libm's exp. The float passes
 * give the same results; the double passes compute the same sums in the
 * same order per lane and differ only in the rounding of exp (a few ulp),
 * far below what the tests allow.
 */
#include "lens/lens_fused.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LENS_FUSED_HAVE_AVX512 1
#else
#define LENS_FUSED_HAVE_AVX512 0
#endif

/* exp(y) is 0 in double below about -745.13; arguments are clamped here so
 * the vector exp never sees an input whose reduction loses its meaning. */
#define LENS_FUSED_EXP_FLOOR (-750.0)

/* Entries of the float pass handled per vectorised block (see lens_stats.c). */
enum { LENS_FUSED_SCAN_BLOCK = 16 };

/* A logit as a finite double: +-inf become +-FLT_MAX so every product stays finite. */
static double finite_logit(float value) {
    return value > FLT_MAX ? FLT_MAX : (value < -FLT_MAX ? -FLT_MAX : (double)value);
}

/* ------------------------------------------------------------------------
 * State
 * ---------------------------------------------------------------------- */

void lens_row_state_begin(lens_row_state *state, const int32_t token_id[LENS_TOKEN_COUNT],
                          const float token_threshold[LENS_TOKEN_COUNT], int topk) {
    assert(topk >= 1 && topk <= LOUPE_LENS_MAX_TOPK);
    state->max_logit = -INFINITY;
    state->partition = state->shifted_sum = 0.0;
    state->final_reverse = state->first_reverse = 0.0;
    state->final_forward = state->first_forward = 0.0;
    for (int k = 0; k < LENS_TOKEN_COUNT; k++) {
        state->token_id[k] = token_id[k];
        state->token_threshold[k] = token_id[k] >= 0 ? token_threshold[k] : INFINITY;
        state->above[k] = 0;
        state->token_logit[k] = 0.0f;
        state->token_seen[k] = false;
    }
    state->top_count = 0;
    state->top_capacity = topk;
}

/* ------------------------------------------------------------------------
 * Float pass: maximum, rank counts, top-k, tokens
 * ---------------------------------------------------------------------- */

/* Inserts (logit, id) into the sorted top list; ids arrive increasing, so an
 * equal logit goes after those already there. */
static void top_insert(lens_row_state *state, float logit, int32_t id) {
    int position = state->top_count < state->top_capacity ? state->top_count++ : state->top_capacity - 1;
    while (position > 0 && state->top_logits[position - 1] < logit) {
        state->top_logits[position] = state->top_logits[position - 1];
        state->top_ids[position] = state->top_ids[position - 1];
        position--;
    }
    state->top_logits[position] = logit;
    state->top_ids[position] = id;
}

static bool top_accepts(const lens_row_state *state, float logit) {
    return state->top_count < state->top_capacity ||
           logit > state->top_logits[state->top_capacity - 1];
}

/* Scans entries vocab_begin .. + n - 1 of one row, logits (n), for the rank
 * counts and top-k; returns their maximum (logits[0] when it is NaN, else the
 * largest entry that is not NaN). */
static float scan_portable(lens_row_state *state, const float *logits, int vocab_begin, int n) {
    const float t0 = state->token_threshold[0], t1 = state->token_threshold[1],
                t2 = state->token_threshold[2];
    int32_t above0 = 0, above1 = 0, above2 = 0;
    float chunk_max = logits[0];
    int block_end = n - n % LENS_FUSED_SCAN_BLOCK;
    for (int base = 0; base < block_end; base += LENS_FUSED_SCAN_BLOCK) {
        const float *block = logits + base;
        float block_max = block[0];
        int32_t b0 = 0, b1 = 0, b2 = 0;
#pragma omp simd reduction(max : block_max) reduction(+ : b0, b1, b2)
        for (int i = 0; i < LENS_FUSED_SCAN_BLOCK; i++) {
            block_max = block[i] > block_max ? block[i] : block_max;
            b0 += block[i] > t0;
            b1 += block[i] > t1;
            b2 += block[i] > t2;
        }
        above0 += b0, above1 += b1, above2 += b2;
        if (block_max > chunk_max) chunk_max = block_max;
        if (top_accepts(state, block_max))
            for (int i = 0; i < LENS_FUSED_SCAN_BLOCK; i++)
                if (top_accepts(state, block[i])) top_insert(state, block[i], vocab_begin + base + i);
    }
    for (int i = block_end; i < n; i++) {
        above0 += logits[i] > t0, above1 += logits[i] > t1, above2 += logits[i] > t2;
        if (logits[i] > chunk_max) chunk_max = logits[i];
        if (top_accepts(state, logits[i])) top_insert(state, logits[i], vocab_begin + i);
    }
    state->above[0] += above0, state->above[1] += above1, state->above[2] += above2;
    return chunk_max;
}

/* Records the logits of the row's tokens that fall in this chunk. */
static void record_tokens(lens_row_state *state, const float *logits, int vocab_begin, int n) {
    for (int k = 0; k < LENS_TOKEN_COUNT; k++) {
        int32_t offset = state->token_id[k] - vocab_begin;
        if (state->token_id[k] >= 0 && offset >= 0 && offset < n) {
            state->token_logit[k] = logits[offset];
            state->token_seen[k] = true;
        }
    }
}

/* Raises the running maximum to new_max (>= the old one) and rescales the
 * row's own sums; returns the factor e^(old - new) that sums weighted by
 * this row's exps must be multiplied by (0 when nothing was seen). */
static double raise_max(lens_row_state *state, double new_max) {
    double old_max = state->max_logit;
    if (!(new_max > old_max)) return 1.0;
    state->max_logit = new_max;
    if (old_max == -INFINITY) return 0.0; /* every sum is still 0 */
    double shift = old_max - new_max, factor = exp(shift);
    state->shifted_sum = factor * (state->shifted_sum + shift * state->partition);
    state->partition *= factor;
    state->final_reverse *= factor;
    state->first_reverse *= factor;
    return factor;
}

/* ------------------------------------------------------------------------
 * Double pass: exps and sums
 * ---------------------------------------------------------------------- */

/* The six sums of one row over a chunk, before they are added to its state. */
typedef struct chunk_sums {
    double partition, shifted_sum, final_reverse, first_reverse, final_forward, first_forward;
} chunk_sums;

/* weights (n) = e^(y - max) of logits (n). */
static void exps_portable(const float *logits, int n, double max_logit, double *weights) {
    for (int i = 0; i < n; i++) {
        double shifted = finite_logit(logits[i]) - max_logit;
        weights[i] = shifted < LENS_FUSED_EXP_FLOOR ? 0.0 : exp(shifted);
    }
}

/* The sums of a row over a chunk. own (n) is the row's weights when it is a
 * reference row, else NULL (then they are computed); final/first (n) the
 * reference rows' logits, final_weights/first_weights (n) their weights. */
static chunk_sums sums_portable(const float *logits, const double *own, int n, double max_logit,
                                const float *final, const double *final_weights, const float *first,
                                const double *first_weights) {
    chunk_sums sums = {0};
    for (int i = 0; i < n; i++) {
        double y = finite_logit(logits[i]), shifted = y - max_logit;
        double weight = own != NULL ? own[i]
                                    : (shifted < LENS_FUSED_EXP_FLOOR ? 0.0 : exp(shifted));
        double y_final = finite_logit(final[i]), y_first = finite_logit(first[i]);
        sums.partition += weight;
        sums.shifted_sum += weight * shifted;
        sums.final_reverse += weight * (y - y_final);
        sums.first_reverse += weight * (y - y_first);
        sums.final_forward += final_weights[i] * (y_final - y);
        sums.first_forward += first_weights[i] * (y_first - y);
    }
    return sums;
}

#if LENS_FUSED_HAVE_AVX512
#define LENS_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq")))

/* e^x for 8 doubles, x >= LENS_FUSED_EXP_FLOOR: x = n ln2 + r with
 * |r| <= ln2 / 2, e^r by its Taylor series to degree 12 (relative error
 * below 1e-15), scaled by 2^n with vscalefpd (which also underflows to 0). */
LENS_AVX512 static __m512d exp_avx512(__m512d x) {
    const __m512d log2e = _mm512_set1_pd(1.4426950408889634);
    const __m512d ln2_hi = _mm512_set1_pd(0x1.62e42fefa39efp-1);
    const __m512d ln2_lo = _mm512_set1_pd(0x1.abc9e3b39803fp-56);
    __m512d n = _mm512_roundscale_pd(_mm512_mul_pd(x, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512d r = _mm512_fnmadd_pd(n, ln2_hi, x);
    r = _mm512_fnmadd_pd(n, ln2_lo, r);
    static const double inverse_factorials[] = {
        1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0, 1.0 / 40320.0,
        1.0 / 5040.0,      1.0 / 720.0,      1.0 / 120.0,     1.0 / 24.0,     1.0 / 6.0,
        0.5,               1.0,              1.0};
    __m512d p = _mm512_set1_pd(inverse_factorials[0]);
    for (int i = 1; i < 13; i++) p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(inverse_factorials[i]));
    return _mm512_scalef_pd(p, n);
}

/* 8 logits from logits + i (fewer under mask, the rest 0) as finite doubles. */
LENS_AVX512 static __m512d load_logits(const float *logits, __mmask8 mask) {
    __m256 values = _mm256_maskz_loadu_ps(mask, logits);
    values = _mm256_min_ps(_mm256_max_ps(values, _mm256_set1_ps(-FLT_MAX)), _mm256_set1_ps(FLT_MAX));
    return _mm512_cvtps_pd(values);
}

static __mmask8 tail_mask(int remaining) {
    return remaining >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << remaining) - 1u);
}

LENS_AVX512 static __m512d weights_avx512(__m512d y, __m512d max_logit, __mmask8 mask) {
    __m512d shifted = _mm512_max_pd(_mm512_sub_pd(y, max_logit), _mm512_set1_pd(LENS_FUSED_EXP_FLOOR));
    return _mm512_maskz_mov_pd(mask, exp_avx512(shifted));
}

LENS_AVX512 static void exps_avx512(const float *logits, int n, double max_logit, double *weights) {
    const __m512d max_vector = _mm512_set1_pd(max_logit);
    for (int i = 0; i < n; i += 8) {
        __mmask8 mask = tail_mask(n - i);
        __m512d w = weights_avx512(load_logits(logits + i, mask), max_vector, mask);
        _mm512_mask_storeu_pd(weights + i, mask, w);
    }
}

/* Below the floor, exp is 0 in both bodies; between -750 and -745 the
 * vector exp gives subnormals where libm may give 0: either way far below
 * any sum it joins. */
LENS_AVX512 static chunk_sums sums_avx512(const float *logits, const double *own, int n,
                                          double max_logit, const float *final,
                                          const double *final_weights, const float *first,
                                          const double *first_weights) {
    const __m512d max_vector = _mm512_set1_pd(max_logit);
    __m512d partition = _mm512_setzero_pd(), shifted_sum = _mm512_setzero_pd();
    __m512d final_reverse = _mm512_setzero_pd(), first_reverse = _mm512_setzero_pd();
    __m512d final_forward = _mm512_setzero_pd(), first_forward = _mm512_setzero_pd();
    for (int i = 0; i < n; i += 8) {
        __mmask8 mask = tail_mask(n - i);
        __m512d y = load_logits(logits + i, mask);
        __m512d weight = own != NULL ? _mm512_maskz_loadu_pd(mask, own + i)
                                     : weights_avx512(y, max_vector, mask);
        __m512d y_final = load_logits(final + i, mask), y_first = load_logits(first + i, mask);
        __m512d shifted = _mm512_maskz_sub_pd(mask, y, max_vector);
        partition = _mm512_add_pd(partition, weight);
        shifted_sum = _mm512_fmadd_pd(weight, shifted, shifted_sum);
        final_reverse = _mm512_fmadd_pd(weight, _mm512_sub_pd(y, y_final), final_reverse);
        first_reverse = _mm512_fmadd_pd(weight, _mm512_sub_pd(y, y_first), first_reverse);
        final_forward = _mm512_fmadd_pd(_mm512_maskz_loadu_pd(mask, final_weights + i),
                                        _mm512_sub_pd(y_final, y), final_forward);
        first_forward = _mm512_fmadd_pd(_mm512_maskz_loadu_pd(mask, first_weights + i),
                                        _mm512_sub_pd(y_first, y), first_forward);
    }
    chunk_sums sums = {
        _mm512_reduce_add_pd(partition),     _mm512_reduce_add_pd(shifted_sum),
        _mm512_reduce_add_pd(final_reverse), _mm512_reduce_add_pd(first_reverse),
        _mm512_reduce_add_pd(final_forward), _mm512_reduce_add_pd(first_forward)};
    return sums;
}

/* scan_portable on 16 lanes, with the same results: each lane keeps the
 * largest of its entries by the same strict comparison, started from
 * logits[0], and the lanes are reduced in order; top-k candidates are the
 * entries above the k-th logit when the block starts (every entry while the
 * list is not full), offered in vocabulary order and checked again as the
 * list changes. */
LENS_AVX512 static float scan_avx512(lens_row_state *state, const float *logits, int vocab_begin, int n) {
    const __m512 t0 = _mm512_set1_ps(state->token_threshold[0]), t1 = _mm512_set1_ps(state->token_threshold[1]),
                 t2 = _mm512_set1_ps(state->token_threshold[2]);
    int32_t above0 = 0, above1 = 0, above2 = 0;
    __m512 lane_max = _mm512_set1_ps(logits[0]);
    for (int base = 0; base < n; base += 16) {
        const __mmask16 mask = n - base >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - base)) - 1u);
        const __m512 values = _mm512_maskz_loadu_ps(mask, logits + base);
        above0 += __builtin_popcount(_mm512_mask_cmp_ps_mask(mask, values, t0, _CMP_GT_OQ));
        above1 += __builtin_popcount(_mm512_mask_cmp_ps_mask(mask, values, t1, _CMP_GT_OQ));
        above2 += __builtin_popcount(_mm512_mask_cmp_ps_mask(mask, values, t2, _CMP_GT_OQ));
        lane_max = _mm512_mask_mov_ps(lane_max, _mm512_mask_cmp_ps_mask(mask, values, lane_max, _CMP_GT_OQ), values);
        unsigned candidates = mask;
        if (state->top_count == state->top_capacity)
            candidates = _mm512_mask_cmp_ps_mask(mask, values, _mm512_set1_ps(state->top_logits[state->top_capacity - 1]),
                                                 _CMP_GT_OQ);
        for (; candidates != 0; candidates &= candidates - 1) {
            const int i = base + __builtin_ctz(candidates);
            if (top_accepts(state, logits[i])) top_insert(state, logits[i], vocab_begin + i);
        }
    }
    float lanes[16];
    _mm512_storeu_ps(lanes, lane_max);
    float chunk_max = lanes[0];
    for (int i = 1; i < 16; i++)
        if (lanes[i] > chunk_max) chunk_max = lanes[i];
    state->above[0] += above0, state->above[1] += above1, state->above[2] += above2;
    return chunk_max;
}
#endif

/* Which body runs: 1 vectorised, 0 portable, -1 not chosen yet. */
static int use_vector_body = -1;

static bool vector_body_available(void) {
#if LENS_FUSED_HAVE_AVX512
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512dq");
#else
    return false;
#endif
}

bool lens_fused_use_portable(bool portable) {
    bool available = vector_body_available();
    use_vector_body = available && !portable;
    return available;
}

static bool vector_body(void) {
    /* Racing first calls from two threads write the same value. */
    if (use_vector_body < 0) use_vector_body = vector_body_available();
    return use_vector_body == 1;
}

/* The float pass over one row's chunk: counts, top-k, the tokens' logits;
 * returns the chunk's maximum. */
static float scan_row(lens_row_state *state, const float *logits, int vocab_begin, int n) {
    record_tokens(state, logits, vocab_begin, n);
#if LENS_FUSED_HAVE_AVX512
    if (vector_body()) return scan_avx512(state, logits, vocab_begin, n);
#endif
    return scan_portable(state, logits, vocab_begin, n);
}

static void exps(const float *logits, int n, double max_logit, double *weights) {
#if LENS_FUSED_HAVE_AVX512
    if (vector_body()) {
        exps_avx512(logits, n, max_logit, weights);
        return;
    }
#endif
    exps_portable(logits, n, max_logit, weights);
}

static chunk_sums sums(const float *logits, const double *own, int n, double max_logit,
                       const float *final, const double *final_weights, const float *first,
                       const double *first_weights) {
#if LENS_FUSED_HAVE_AVX512
    if (vector_body())
        return sums_avx512(logits, own, n, max_logit, final, final_weights, first, first_weights);
#endif
    return sums_portable(logits, own, n, max_logit, final, final_weights, first, first_weights);
}

/* ------------------------------------------------------------------------
 * Chunks, merges, results
 * ---------------------------------------------------------------------- */

/* Row `row` of a chunk: rows before the last in logits, the last apart. */
static const float *chunk_row(const float *logits, int stride, const float *final_logits, int row, int last) {
    return row == last ? final_logits : logits + (size_t)row * stride;
}

void lens_fused_chunk(lens_row_state *states, int n_rows, const float *logits, int stride,
                      const float *final_logits, int vocab_begin, int n, double *scratch) {
    assert(n_rows >= 1 && n >= 1);
    const int last = n_rows - 1;
    const float *first_logits = chunk_row(logits, stride, final_logits, 0, last);
    /* The reference rows first: every row's forward sums are rescaled by
     * their factors. */
    double first_factor = raise_max(&states[0], finite_logit(scan_row(&states[0], first_logits, vocab_begin, n)));
    double final_factor = last == 0 ? first_factor
                                    : raise_max(&states[last], finite_logit(scan_row(&states[last], final_logits,
                                                                                      vocab_begin, n)));
    for (int row = 1; row < last; row++) {
        const float *row_logits = chunk_row(logits, stride, final_logits, row, last);
        raise_max(&states[row], finite_logit(scan_row(&states[row], row_logits, vocab_begin, n)));
    }
    double *first_weights = scratch, *final_weights = scratch + n;
    exps(first_logits, n, states[0].max_logit, first_weights);
    exps(final_logits, n, states[last].max_logit, final_weights);
    for (int row = 0; row < n_rows; row++) {
        lens_row_state *state = &states[row];
        state->final_forward *= final_factor;
        state->first_forward *= first_factor;
        const double *own = row == 0 ? first_weights : (row == last ? final_weights : NULL);
        chunk_sums add = sums(chunk_row(logits, stride, final_logits, row, last), own, n, state->max_logit, final_logits,
                              final_weights, first_logits, first_weights);
        state->partition += add.partition;
        state->shifted_sum += add.shifted_sum;
        state->final_reverse += add.final_reverse;
        state->first_reverse += add.first_reverse;
        state->final_forward += add.final_forward;
        state->first_forward += add.first_forward;
    }
}

/* The factor e^(max - merged) for a row's sums, 0 when it saw nothing. */
static double merge_factor(double max_logit, double merged) {
    return max_logit == -INFINITY ? 0.0 : exp(max_logit - merged);
}

void lens_fused_merge(lens_row_state *states, const lens_row_state *later, int n_rows) {
    const int last = n_rows - 1;
    double first_max = fmax(states[0].max_logit, later[0].max_logit);
    double final_max = fmax(states[last].max_logit, later[last].max_logit);
    double first_a = merge_factor(states[0].max_logit, first_max), first_b = merge_factor(later[0].max_logit, first_max);
    double final_a = merge_factor(states[last].max_logit, final_max),
           final_b = merge_factor(later[last].max_logit, final_max);
    for (int row = 0; row < n_rows; row++) {
        lens_row_state *a = &states[row];
        const lens_row_state *b = &later[row];
        double merged = fmax(a->max_logit, b->max_logit);
        double fa = merge_factor(a->max_logit, merged), fb = merge_factor(b->max_logit, merged);
        double shift_a = a->max_logit == -INFINITY ? 0.0 : a->max_logit - merged;
        double shift_b = b->max_logit == -INFINITY ? 0.0 : b->max_logit - merged;
        a->shifted_sum = fa * (a->shifted_sum + shift_a * a->partition) +
                         fb * (b->shifted_sum + shift_b * b->partition);
        a->partition = fa * a->partition + fb * b->partition;
        a->final_reverse = fa * a->final_reverse + fb * b->final_reverse;
        a->first_reverse = fa * a->first_reverse + fb * b->first_reverse;
        a->final_forward = final_a * a->final_forward + final_b * b->final_forward;
        a->first_forward = first_a * a->first_forward + first_b * b->first_forward;
        a->max_logit = merged;
        for (int k = 0; k < LENS_TOKEN_COUNT; k++) {
            a->above[k] += b->above[k];
            if (b->token_seen[k]) {
                a->token_logit[k] = b->token_logit[k];
                a->token_seen[k] = true;
            }
        }
        /* b's ids all come after a's, so inserting them in order keeps ties by id. */
        for (int i = 0; i < b->top_count; i++)
            if (top_accepts(a, b->top_logits[i])) top_insert(a, b->top_logits[i], b->top_ids[i]);
    }
}

void lens_fused_finish(const lens_row_state *states, int n_rows, int row, lens_row_stats *out,
                       unsigned *recount_mask) {
    const lens_row_state *state = &states[row], *first = &states[0], *final = &states[n_rows - 1];
    const double log_partition = log(state->partition);
    const double log_normaliser = state->max_logit + log_partition;
    const double final_normaliser = final->max_logit + log(final->partition);
    const double first_normaliser = first->max_logit + log(first->partition);
    out->n_top = state->top_count;
    for (int i = 0; i < state->top_count; i++) {
        out->top_ids[i] = state->top_ids[i];
        out->top_logits[i] = state->top_logits[i];
        out->top_probs[i] = (float)exp(((double)state->top_logits[i] - state->max_logit) - log_partition);
    }
    loupe_lens_token *tokens[LENS_TOKEN_COUNT] = {&out->target, &out->input, &out->final_top};
    *recount_mask = 0;
    for (int k = 0; k < LENS_TOKEN_COUNT; k++) {
        loupe_lens_token token = {-1, 0.0f, 0.0f, 0};
        if (state->token_id[k] >= 0) {
            token.id = state->token_id[k];
            token.logit = state->token_logit[k];
            token.prob = (float)exp((finite_logit(token.logit) - state->max_logit) - log_partition);
            token.rank = state->above[k] + 1;
            if (!state->token_seen[k] || !(state->token_logit[k] == state->token_threshold[k]))
                *recount_mask |= 1u << k;
        }
        *tokens[k] = token;
    }
    out->entropy = lens_float_non_negative(log_partition - state->shifted_sum / state->partition);
    out->kl_final = lens_float_non_negative(state->final_forward / final->partition - final_normaliser +
                                            log_normaliser);
    out->kl_final_rev = lens_float_non_negative(state->final_reverse / state->partition -
                                                log_normaliser + final_normaliser);
    out->kl_first = lens_float_non_negative(state->first_forward / first->partition - first_normaliser +
                                            log_normaliser);
    out->kl_first_rev = lens_float_non_negative(state->first_reverse / state->partition -
                                                log_normaliser + first_normaliser);
}
