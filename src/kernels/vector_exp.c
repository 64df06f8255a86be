/*
 * vector_exp.c - e^x over an array of floats (see vector_exp.h).
 *
 * Both vector bodies compute, per lane, the same steps as Cephes' expf:
 *   n = round(x log2 e), r = x - n ln2 (ln2 split in two so n ln2 loses
 *   nothing), |r| <= ln2 / 2 (a rounding of x log2 e may push it an ulp
 *   past), e^r = 1 + r + r^2 P(r) with P of degree 5 (relative error of the
 *   polynomial itself below 2e-9), e^x = e^r 2^n.
 * The input is first clamped to [-104, 89]: below -103.97 e^x is under half
 * the smallest subnormal and rounds to 0, above 88.73 it is beyond FLT_MAX;
 * the clamp keeps n within [-150, 128], where the scaling by 2^n still
 * overflows to inf and underflows through the subnormals to 0 with a single
 * rounding. The clamp is max(lo, x) then min(hi, x): both return their
 * second operand when one is NaN, so NaN passes through.
 */
#include "kernels/vector_exp.h"

#include <math.h>

#include "util/cpu_features.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define VECTOR_EXP_HAVE_X86 1
#else
#define VECTOR_EXP_HAVE_X86 0
#endif

/* ------------------------------------------------------------------------
 * Constants shared by the vector bodies
 * ---------------------------------------------------------------------- */

#define VECTOR_EXP_INPUT_LOW (-104.0f)
#define VECTOR_EXP_INPUT_HIGH 89.0f
#define VECTOR_EXP_LOG2E 1.44269504088896341f
/* ln 2 = LN2_HIGH + LN2_LOW; LN2_HIGH has 9 significant bits, so n LN2_HIGH
 * is exact for |n| <= 150 and x - n LN2_HIGH is exact too (Sterbenz). */
#define VECTOR_EXP_LN2_HIGH 0.693359375f
#define VECTOR_EXP_LN2_LOW (-2.12194440e-4f)
/* P(r), highest degree first (Cephes expf). */
#define VECTOR_EXP_P5 1.9875691500e-4f
#define VECTOR_EXP_P4 1.3981999507e-3f
#define VECTOR_EXP_P3 8.3334519073e-3f
#define VECTOR_EXP_P2 4.1665795894e-2f
#define VECTOR_EXP_P1 1.6666665459e-1f
#define VECTOR_EXP_P0 5.0000001201e-1f

/* ------------------------------------------------------------------------
 * Portable body
 * ---------------------------------------------------------------------- */

static void vector_exp_portable(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = expf(x[i]);
}

#if VECTOR_EXP_HAVE_X86

/* ------------------------------------------------------------------------
 * AVX-512 body
 * ---------------------------------------------------------------------- */

#define VECTOR_EXP_AVX512 __attribute__((target("avx512f")))

/* e^x for 16 floats; vscaleps does the 2^n scaling with its single rounding. */
VECTOR_EXP_AVX512 static __m512 exp_avx512(__m512 x) {
    x = _mm512_max_ps(_mm512_set1_ps(VECTOR_EXP_INPUT_LOW), x);
    x = _mm512_min_ps(_mm512_set1_ps(VECTOR_EXP_INPUT_HIGH), x);
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(VECTOR_EXP_LOG2E)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(VECTOR_EXP_LN2_HIGH), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(VECTOR_EXP_LN2_LOW), r);
    __m512 p = _mm512_set1_ps(VECTOR_EXP_P5);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(VECTOR_EXP_P4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(VECTOR_EXP_P3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(VECTOR_EXP_P2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(VECTOR_EXP_P1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(VECTOR_EXP_P0));
    /* 1 + (r + r^2 P): the small part first, so the 1 is added once, last. */
    __m512 e = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r);
    e = _mm512_add_ps(e, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(e, n);
}

/* The tail goes through masked loads and stores: lanes past n are neither
 * read nor written. */
VECTOR_EXP_AVX512 static void vector_exp_avx512(const float *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, exp_avx512(_mm512_loadu_ps(x + i)));
    if (i < n) {
        __mmask16 mask = (__mmask16)((1u << (n - i)) - 1u);
        _mm512_mask_storeu_ps(y + i, mask, exp_avx512(_mm512_maskz_loadu_ps(mask, x + i)));
    }
}

/* ------------------------------------------------------------------------
 * AVX2 body
 * ---------------------------------------------------------------------- */

#define VECTOR_EXP_AVX2 __attribute__((target("avx2,fma")))

/* e^x for 8 floats. Without vscaleps, 2^n (n in [-150, 128], beyond the
 * normal exponents) is applied as 2^a 2^b with a = floor(n / 2) and
 * b = n - a, both in [-75, 64] and so normal floats built from their
 * exponent bits: e^r 2^a is exact, and the product with 2^b rounds once,
 * overflowing to inf or underflowing through the subnormals as one scaling
 * would. A NaN lane gives NaN whatever n became. */
VECTOR_EXP_AVX2 static __m256 exp_avx2(__m256 x) {
    x = _mm256_max_ps(_mm256_set1_ps(VECTOR_EXP_INPUT_LOW), x);
    x = _mm256_min_ps(_mm256_set1_ps(VECTOR_EXP_INPUT_HIGH), x);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(VECTOR_EXP_LOG2E)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(VECTOR_EXP_LN2_HIGH), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(VECTOR_EXP_LN2_LOW), r);
    __m256 p = _mm256_set1_ps(VECTOR_EXP_P5);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(VECTOR_EXP_P4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(VECTOR_EXP_P3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(VECTOR_EXP_P2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(VECTOR_EXP_P1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(VECTOR_EXP_P0));
    __m256 e = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r);
    e = _mm256_add_ps(e, _mm256_set1_ps(1.0f));
    __m256i whole = _mm256_cvtps_epi32(n);
    __m256i half = _mm256_srai_epi32(whole, 1);
    __m256i rest = _mm256_sub_epi32(whole, half);
    const __m256i bias = _mm256_set1_epi32(127);
    __m256 scale_half = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(half, bias), 23));
    __m256 scale_rest = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(rest, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(e, scale_half), scale_rest);
}

/* The tail goes through vmaskmovps: lanes past n are neither read nor
 * written (and do not fault). */
VECTOR_EXP_AVX2 static void vector_exp_avx2(const float *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, exp_avx2(_mm256_loadu_ps(x + i)));
    if (i < n) {
        __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n - i)),
                                          _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        _mm256_maskstore_ps(y + i, mask, exp_avx2(_mm256_maskload_ps(x + i, mask)));
    }
}

#endif

/* ------------------------------------------------------------------------
 * Choice of body
 * ---------------------------------------------------------------------- */

void vector_exp(const float *x, float *y, size_t n) {
#if VECTOR_EXP_HAVE_X86
    const cpu_level level = cpu_features_level();
    if (level >= CPU_LEVEL_AVX512) {
        vector_exp_avx512(x, y, n);
        return;
    }
    if (level >= CPU_LEVEL_AVX2) {
        vector_exp_avx2(x, y, n);
        return;
    }
#endif
    vector_exp_portable(x, y, n);
}
