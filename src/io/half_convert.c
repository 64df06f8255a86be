/*
 * half_convert.c - binary16 and bfloat16 to float32 (see half_convert.h):
 * for binary16 a plain C body that rebuilds the float's bits, and an F16C
 * body that converts 8 halves per instruction, chosen by the level
 * (util/cpu_features.h); for bfloat16 a shift the compiler vectorises.
 */
#include "io/half_convert.h"

#include <string.h>

#include "util/cpu_features.h"

/* F16C exists only on x86-64, which is little-endian: its loads read the
 * file's byte order as it is. Any other host takes the portable body. */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__BYTE_ORDER__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#include <immintrin.h>
#define HALF_CONVERT_HAVE_F16C 1
#else
#define HALF_CONVERT_HAVE_F16C 0
#endif

/* ------------------------------------------------------------------------
 * Portable body
 * ---------------------------------------------------------------------- */

static uint16_t read_u16_le(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

/* IEEE binary16 -> binary32 bit pattern; exact for every input, including
 * subnormals (renormalised), infinities and NaNs (payload kept). */
static uint32_t half_bits_to_float_bits(uint16_t half) {
    uint32_t sign = (uint32_t)(half & 0x8000u) << 16;
    uint32_t exponent = (half >> 10) & 0x1fu;
    uint32_t mantissa = half & 0x3ffu;
    if (exponent == 0x1f) return sign | 0x7f800000u | (mantissa << 13);
    if (exponent != 0) return sign | ((exponent + 112u) << 23) | (mantissa << 13);
    if (mantissa == 0) return sign;
    /* mantissa x 2^-24: shift the leading 1 up to the implicit-bit position. */
    uint32_t shift = 0;
    while ((mantissa & 0x400u) == 0) {
        mantissa <<= 1;
        shift++;
    }
    return sign | ((113u - shift) << 23) | ((mantissa & 0x3ffu) << 13);
}

/* bytes (n_elements x 2) -> out (n_elements), one element at a time. */
void half_to_f32_reference(const uint8_t *bytes, int64_t n_elements, float *out) {
    for (int64_t i = 0; i < n_elements; i++) {
        uint32_t bits = half_bits_to_float_bits(read_u16_le(bytes + 2 * i));
        memcpy(out + i, &bits, sizeof bits);
    }
}

/* ------------------------------------------------------------------------
 * F16C body
 * ---------------------------------------------------------------------- */

#if HALF_CONVERT_HAVE_F16C
#define HALF_F16C __attribute__((target("f16c,avx")))

/* bytes (n_elements x 2) -> out (n_elements): 8 halves per vcvtph2ps with
 * unaligned loads and stores (the bytes lie at any offset of an mmap), the
 * last n_elements % 8 by the portable body. */
HALF_F16C static void half_to_f32_f16c(const uint8_t *bytes, int64_t n_elements, float *out) {
    int64_t i = 0;
    for (; i + 8 <= n_elements; i += 8) {
        __m128i halves = _mm_loadu_si128((const __m128i *)(const void *)(bytes + 2 * i));
        _mm256_storeu_ps(out + i, _mm256_cvtph_ps(halves));
    }
    /* GCC 12 was seen jumping into the tail call with the ymm registers
     * still dirty: clean them so the SSE code after pays no transition. */
    _mm256_zeroupper();
    half_to_f32_reference(bytes + 2 * i, n_elements - i, out + i);
}
#endif

/* ------------------------------------------------------------------------
 * Dispatch
 * ---------------------------------------------------------------------- */

typedef void (*half_body)(const uint8_t *bytes, int64_t n_elements, float *out);

/* The body of this level; the AVX of the avx2 level also says the OS saves
 * the ymm registers vcvtph2ps writes. */
static half_body chosen_body(void) {
#if HALF_CONVERT_HAVE_F16C
    if (cpu_features_level() >= CPU_LEVEL_AVX2) return half_to_f32_f16c;
#endif
    return half_to_f32_reference;
}

/* Elements per piece of work: a 64 KiB slice of out, so each thread first
 * touches whole runs of its own pages. */
enum { HALF_CONVERT_BLOCK = 1 << 14 };

void half_to_f32_serial(const uint8_t *bytes, int64_t n_elements, float *out) { chosen_body()(bytes, n_elements, out); }

void half_to_f32(const uint8_t *bytes, int64_t n_elements, float *out) {
    half_body body = chosen_body();
    int64_t n_blocks = (n_elements + HALF_CONVERT_BLOCK - 1) / HALF_CONVERT_BLOCK;
    /* F16 embeddings are the largest tensors a model has: converting them
     * (and faulting in the fresh pages) is shared among threads. */
#pragma omp parallel for schedule(static) if (n_elements > (1 << 20))
    for (int64_t block = 0; block < n_blocks; block++) {
        int64_t begin = block * HALF_CONVERT_BLOCK;
        int64_t left = n_elements - begin;
        body(bytes + 2 * begin, left < HALF_CONVERT_BLOCK ? left : HALF_CONVERT_BLOCK, out + begin);
    }
}

/* ------------------------------------------------------------------------
 * bfloat16
 * ---------------------------------------------------------------------- */

/* "simd" lets -O2 vectorise the shift (its default cost model refuses the
 * 16-to-32-bit widening). */
void bfloat16_to_f32(const uint8_t *bytes, int64_t n_elements, float *out) {
#pragma omp simd
    for (int64_t i = 0; i < n_elements; i++) {
        uint32_t bits = (uint32_t)read_u16_le(bytes + 2 * i) << 16;
        memcpy(out + i, &bits, sizeof bits);
    }
}
