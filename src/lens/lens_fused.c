/*
 * lens_fused.c - the one-pass lens statistics of a position's rows over
 * vocabulary chunks (see lens_fused.h).
 *
 * Per chunk and row: a float pass (maximum, rank counts, top-k candidates,
 * the tokens' logits), then a double pass (one exp per entry and the six
 * sums). Both passes have two bodies: AVX-512 intrinsics at the avx512
 * level (util/cpu_features.h), and plain C with libm's exp below it (there
 * is no avx2 body). The float passes
 * give the same results; the double passes compute the same sums in the
 * same order per lane and differ only in the rounding of exp (a few ulp),
 * far below what the tests allow.
 */
#include "lens/lens_fused.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include "util/cpu_features.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LENS_FUSED_HAVE_AVX512 1
#else
#define LENS_FUSED_HAVE_AVX512 0
#endif

/* exp(y) is 0 in double below about -745.13; arguments are clamped here so
 * the vector exp never sees an input whose reduction loses its meaning. */
#define LENS_FUSED_EXP_FLOOR (-750.0)

/* Entries of the float pass handled per vectorised block; a block is
 * rescanned one entry at a time only when its maximum could enter the
 * top-k list. */
enum { LENS_FUSED_SCAN_BLOCK = 16 };

/* The magnitude that +-inf logits stand at in double: far beyond every
 * float, so a KL that a masked (-inf) entry makes infinite comes out beyond
 * the float range (and saturates at FLT_MAX), yet small enough that sums of
 * V such terms stay finite. */
#define LENS_FUSED_INFINITE_LOGIT 1e300

/* A logit as a finite double: +-inf become +-LENS_FUSED_INFINITE_LOGIT. */
static double finite_logit(float value) {
    double logit = value;
    return logit > LENS_FUSED_INFINITE_LOGIT ? LENS_FUSED_INFINITE_LOGIT
                                              : (logit < -LENS_FUSED_INFINITE_LOGIT ? -LENS_FUSED_INFINITE_LOGIT : logit);
}

/* A non-negative quantity (entropy, KL) whose rounding may fall just below
 * zero, as a float in [0, FLT_MAX]. */
static float float_non_negative(double value) {
    return value > 0.0 ? (value < FLT_MAX ? (float)value : FLT_MAX) : 0.0f;
}

/* ------------------------------------------------------------------------
 * State
 * ---------------------------------------------------------------------- */

void lens_row_state_begin(lens_row_state *state, const int32_t token_id[LENS_TOKEN_COUNT],
                          const float token_threshold[LENS_TOKEN_COUNT], int topk) {
    assert(topk >= 1 && topk <= LOUPE_LENS_MAX_TOPK);
    state->max_logit = -INFINITY;
    state->partition = state->shifted_sum = 0.0;
    state->final_by_row = state->first_by_row = 0.0;
    state->row_by_final = state->row_by_first = 0.0;
    for (int k = 0; k < LENS_TOKEN_COUNT; k++) {
        state->token_id[k] = token_id[k];
        state->token_threshold[k] = token_id[k] >= 0 ? token_threshold[k] : INFINITY;
        state->above[k] = 0;
        state->token_logit[k] = 0.0f;
        state->token_seen[k] = false;
    }
    state->top_count = 0;
    state->top_capacity = topk;
    state->top_floor = -INFINITY;
}

void lens_row_state_set_floor(lens_row_state *state, float floor) { state->top_floor = floor; }

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

/* "not below the floor" lets NaN through, as the list took it before floors. */
static bool top_accepts(const lens_row_state *state, float logit) {
    if (state->top_count < state->top_capacity) return !(logit < state->top_floor);
    return logit > state->top_logits[state->top_capacity - 1];
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

/* A change of a running maximum from old to new (new >= old): every sum
 * on logits shifted by it moves by `shift` = old - new per entry, and every
 * weight e^(y - max) is multiplied by `factor` = e^shift. A state that has
 * seen nothing (old = -inf) has only zero sums: shift 0, factor 0. */
typedef struct max_change {
    double shift;
    double factor;
} max_change;

static max_change max_change_of(double old_max, double new_max) {
    max_change change = {0.0, 1.0};
    if (old_max == -INFINITY) change.factor = 0.0;
    else if (new_max > old_max) change.shift = old_max - new_max, change.factor = exp(change.shift);
    return change;
}

/* Moves a row's sums from its old maxima to new ones: `own` the change of
 * its own maximum, `first` and `final` those of the reference rows, whose
 * partitions after the change are first_partition and final_partition.
 * The same operations in the same order for every sum, so a row and the
 * reference it equals keep equal sums (and a KL of exactly 0). */
static void rescale_sums(lens_row_state *state, max_change own, max_change first, double first_partition,
                         max_change final, double final_partition) {
    state->partition *= own.factor;
    state->shifted_sum = own.factor * state->shifted_sum + own.shift * state->partition;
    state->final_by_row = own.factor * state->final_by_row + final.shift * state->partition;
    state->first_by_row = own.factor * state->first_by_row + first.shift * state->partition;
    state->row_by_final = final.factor * state->row_by_final + own.shift * final_partition;
    state->row_by_first = first.factor * state->row_by_first + own.shift * first_partition;
}

/* ------------------------------------------------------------------------
 * Double pass: exps and sums
 * ---------------------------------------------------------------------- */

/* The six sums of one row over a chunk, before they are added to its state. */
typedef struct chunk_sums {
    double partition, shifted_sum, final_by_row, first_by_row, row_by_final, row_by_first;
} chunk_sums;

/* weights (n) = e^(y - max) of logits (n). */
static void exps_portable(const float *logits, int n, double max_logit, double *weights) {
    for (int i = 0; i < n; i++) {
        double shifted = finite_logit(logits[i]) - max_logit;
        weights[i] = shifted < LENS_FUSED_EXP_FLOOR ? 0.0 : exp(shifted);
    }
}

/* A reference row's chunk: its logits (n), their weights (n) and the
 * maximum they are shifted by. */
typedef struct reference_chunk {
    const float *logits;
    const double *weights;
    double max_logit;
} reference_chunk;

/* The sums of a row over a chunk. own (n) is the row's weights when it is a
 * reference row, else NULL (then they are computed). Every logit is taken
 * shifted by its own row's maximum before two rows' logits meet, so logits
 * far from 0 (1e30) cancel exactly and the KLs keep their precision. */
static chunk_sums sums_portable(const float *logits, const double *own, int n, double max_logit,
                                const reference_chunk *final, const reference_chunk *first) {
    chunk_sums sums = {0};
    for (int i = 0; i < n; i++) {
        double shifted = finite_logit(logits[i]) - max_logit;
        double weight = own != NULL ? own[i]
                                    : (shifted < LENS_FUSED_EXP_FLOOR ? 0.0 : exp(shifted));
        double final_shifted = finite_logit(final->logits[i]) - final->max_logit;
        double first_shifted = finite_logit(first->logits[i]) - first->max_logit;
        sums.partition += weight;
        sums.shifted_sum += weight * shifted;
        sums.final_by_row += weight * final_shifted;
        sums.first_by_row += weight * first_shifted;
        sums.row_by_final += final->weights[i] * shifted;
        sums.row_by_first += first->weights[i] * shifted;
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

/* 8 logits from logits + i (fewer under mask, the rest 0) as finite doubles
 * (finite_logit). */
LENS_AVX512 static __m512d load_logits(const float *logits, __mmask8 mask) {
    __m512d values = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(mask, logits));
    values = _mm512_max_pd(values, _mm512_set1_pd(-LENS_FUSED_INFINITE_LOGIT));
    return _mm512_min_pd(values, _mm512_set1_pd(LENS_FUSED_INFINITE_LOGIT));
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
                                          double max_logit, const reference_chunk *final,
                                          const reference_chunk *first) {
    const __m512d max_vector = _mm512_set1_pd(max_logit);
    const __m512d final_max = _mm512_set1_pd(final->max_logit), first_max = _mm512_set1_pd(first->max_logit);
    __m512d partition = _mm512_setzero_pd(), shifted_sum = _mm512_setzero_pd();
    __m512d final_by_row = _mm512_setzero_pd(), first_by_row = _mm512_setzero_pd();
    __m512d row_by_final = _mm512_setzero_pd(), row_by_first = _mm512_setzero_pd();
    for (int i = 0; i < n; i += 8) {
        __mmask8 mask = tail_mask(n - i);
        __m512d y = load_logits(logits + i, mask);
        __m512d weight = own != NULL ? _mm512_maskz_loadu_pd(mask, own + i)
                                     : weights_avx512(y, max_vector, mask);
        __m512d shifted = _mm512_maskz_sub_pd(mask, y, max_vector);
        __m512d final_shifted = _mm512_maskz_sub_pd(mask, load_logits(final->logits + i, mask), final_max);
        __m512d first_shifted = _mm512_maskz_sub_pd(mask, load_logits(first->logits + i, mask), first_max);
        partition = _mm512_add_pd(partition, weight);
        shifted_sum = _mm512_fmadd_pd(weight, shifted, shifted_sum);
        final_by_row = _mm512_fmadd_pd(weight, final_shifted, final_by_row);
        first_by_row = _mm512_fmadd_pd(weight, first_shifted, first_by_row);
        row_by_final = _mm512_fmadd_pd(_mm512_maskz_loadu_pd(mask, final->weights + i), shifted, row_by_final);
        row_by_first = _mm512_fmadd_pd(_mm512_maskz_loadu_pd(mask, first->weights + i), shifted, row_by_first);
    }
    chunk_sums sums = {
        _mm512_reduce_add_pd(partition),    _mm512_reduce_add_pd(shifted_sum),
        _mm512_reduce_add_pd(final_by_row), _mm512_reduce_add_pd(first_by_row),
        _mm512_reduce_add_pd(row_by_final), _mm512_reduce_add_pd(row_by_first)};
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
        unsigned candidates = _mm512_mask_cmp_ps_mask(mask, values, _mm512_set1_ps(state->top_floor), _CMP_NLT_UQ);
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

#if LENS_FUSED_HAVE_AVX512
static bool vector_body(void) { return cpu_features_level() >= CPU_LEVEL_AVX512; }
#endif

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
                       const reference_chunk *final, const reference_chunk *first) {
#if LENS_FUSED_HAVE_AVX512
    if (vector_body()) return sums_avx512(logits, own, n, max_logit, final, first);
#endif
    return sums_portable(logits, own, n, max_logit, final, first);
}

/* ------------------------------------------------------------------------
 * Chunks, merges, results
 * ---------------------------------------------------------------------- */

/* Row `row` of a chunk: rows before the last in logits, the last apart. */
static const float *chunk_row(const float *logits, int stride, const float *final_logits, int row, int last) {
    return row == last ? final_logits : logits + (size_t)row * stride;
}

/* The new maximum of a state that has seen one more chunk whose largest
 * entry is chunk_max. */
static double raised_max(const lens_row_state *state, float chunk_max) {
    return fmax(state->max_logit, finite_logit(chunk_max));
}

void lens_fused_chunk(lens_row_state *states, int n_rows, const float *logits, int stride,
                      const float *final_logits, int vocab_begin, int n, double *scratch) {
    assert(n_rows >= 1 && n >= 1);
    const int last = n_rows - 1;
    const float *first_logits = chunk_row(logits, stride, final_logits, 0, last);
    /* The reference rows' new maxima first: every row's sums move with them. */
    double first_max = raised_max(&states[0], scan_row(&states[0], first_logits, vocab_begin, n));
    double final_max = last == 0 ? first_max
                                 : raised_max(&states[last], scan_row(&states[last], final_logits, vocab_begin, n));
    max_change first = max_change_of(states[0].max_logit, first_max);
    max_change final = max_change_of(states[last].max_logit, final_max);
    double first_partition = first.factor * states[0].partition, final_partition = final.factor * states[last].partition;
    for (int row = 0; row < n_rows; row++) {
        lens_row_state *state = &states[row];
        double new_max = row == 0 ? first_max
                                  : (row == last ? final_max
                                                 : raised_max(state, scan_row(state, chunk_row(logits, stride, final_logits,
                                                                                                row, last),
                                                                              vocab_begin, n)));
        rescale_sums(state, max_change_of(state->max_logit, new_max), first, first_partition, final, final_partition);
        state->max_logit = new_max;
    }
    double *first_weights = scratch, *final_weights = scratch + n;
    exps(first_logits, n, first_max, first_weights);
    exps(final_logits, n, final_max, final_weights);
    const reference_chunk first_chunk = {first_logits, first_weights, first_max};
    const reference_chunk final_chunk = {final_logits, final_weights, final_max};
    for (int row = 0; row < n_rows; row++) {
        lens_row_state *state = &states[row];
        const double *own = row == 0 ? first_weights : (row == last ? final_weights : NULL);
        chunk_sums add = sums(chunk_row(logits, stride, final_logits, row, last), own, n, state->max_logit,
                              &final_chunk, &first_chunk);
        state->partition += add.partition;
        state->shifted_sum += add.shifted_sum;
        state->final_by_row += add.final_by_row;
        state->first_by_row += add.first_by_row;
        state->row_by_final += add.row_by_final;
        state->row_by_first += add.row_by_first;
    }
}

void lens_fused_merge(lens_row_state *states, const lens_row_state *later, int n_rows) {
    const int last = n_rows - 1;
    /* Both sides are moved to the merged maxima (their own and the
     * reference rows'), then added. */
    double first_max = fmax(states[0].max_logit, later[0].max_logit);
    double final_max = fmax(states[last].max_logit, later[last].max_logit);
    max_change first_a = max_change_of(states[0].max_logit, first_max);
    max_change first_b = max_change_of(later[0].max_logit, first_max);
    max_change final_a = max_change_of(states[last].max_logit, final_max);
    max_change final_b = max_change_of(later[last].max_logit, final_max);
    double first_partition_a = first_a.factor * states[0].partition;
    double first_partition_b = first_b.factor * later[0].partition;
    double final_partition_a = final_a.factor * states[last].partition;
    double final_partition_b = final_b.factor * later[last].partition;
    for (int row = 0; row < n_rows; row++) {
        lens_row_state *a = &states[row];
        lens_row_state b = later[row];
        double merged = fmax(a->max_logit, b.max_logit);
        rescale_sums(a, max_change_of(a->max_logit, merged), first_a, first_partition_a, final_a, final_partition_a);
        rescale_sums(&b, max_change_of(b.max_logit, merged), first_b, first_partition_b, final_b, final_partition_b);
        a->partition += b.partition;
        a->shifted_sum += b.shifted_sum;
        a->final_by_row += b.final_by_row;
        a->first_by_row += b.first_by_row;
        a->row_by_final += b.row_by_final;
        a->row_by_first += b.row_by_first;
        a->max_logit = merged;
        for (int k = 0; k < LENS_TOKEN_COUNT; k++) {
            a->above[k] += b.above[k];
            if (b.token_seen[k]) {
                a->token_logit[k] = b.token_logit[k];
                a->token_seen[k] = true;
            }
        }
        /* b's ids all come after a's, so inserting them in order keeps ties by id. */
        for (int i = 0; i < b.top_count; i++)
            if (top_accepts(a, b.top_logits[i])) top_insert(a, b.top_logits[i], b.top_ids[i]);
    }
}

void lens_fused_finish(const lens_row_state *states, int n_rows, int row, lens_row_stats *out,
                       unsigned *recount_mask) {
    const lens_row_state *state = &states[row], *first = &states[0], *final = &states[n_rows - 1];
    const double log_partition = log(state->partition);
    const double log_final_partition = log(final->partition), log_first_partition = log(first->partition);
    out->n_top = state->top_count;
    for (int i = 0; i < state->top_count; i++) {
        out->top_ids[i] = state->top_ids[i];
        out->top_logits[i] = state->top_logits[i];
        out->top_probs[i] = (float)exp(((double)state->top_logits[i] - state->max_logit) - log_partition);
    }
    loupe_lens_token *tokens[LENS_TOKEN_COUNT] = {&out->target, &out->input, &out->final_top};
    *recount_mask = 0;
    for (int k = 0; k < LENS_TOKEN_COUNT; k++) {
        loupe_lens_token token = {-1, 0.0f, 0.0f, 0, 0.0f};
        if (state->token_id[k] >= 0) {
            token.id = state->token_id[k];
            token.logit = state->token_logit[k];
            double log_prob = (finite_logit(token.logit) - state->max_logit) - log_partition;
            token.prob = (float)exp(log_prob);
            token.log_prob = (float)log_prob;
            token.rank = state->above[k] + 1;
            if (!state->token_seen[k] || !(state->token_logit[k] == state->token_threshold[k]))
                *recount_mask |= 1u << k;
        }
        *tokens[k] = token;
    }
    /* With y - m the shifted logits, Z the partitions, S the shifted sums:
     *   entropy        = log Z - S / Z
     *   KL(row || ref) = (S - sum e^(y-m) (y_ref - m_ref)) / Z - log Z + log Z_ref
     *   KL(ref || row) = (S_ref - sum e^(y_ref-m_ref) (y - m)) / Z_ref - log Z_ref + log Z */
    out->entropy = float_non_negative(log_partition - state->shifted_sum / state->partition);
    out->kl_final = float_non_negative((final->shifted_sum - state->row_by_final) / final->partition -
                                       log_final_partition + log_partition);
    out->kl_final_rev = float_non_negative((state->shifted_sum - state->final_by_row) / state->partition -
                                           log_partition + log_final_partition);
    out->kl_first = float_non_negative((first->shifted_sum - state->row_by_first) / first->partition -
                                       log_first_partition + log_partition);
    out->kl_first_rev = float_non_negative((state->shifted_sum - state->first_by_row) / state->partition -
                                           log_partition + log_first_partition);
}
