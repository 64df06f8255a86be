/*
 * bf16_gemm.c - see bf16_gemm.h.
 *
 * Both bodies take one panel of 32 weight rows (32 Kp values, in L1 or L2)
 * through every group of rows before the next panel. vdpbf16ps body:
 * groups of 12 rows, 24 accumulators (12 rows x 2 registers of 16 weight
 * rows); per pair of k, two loads from the panel, twelve broadcasts of a
 * row's pair (32 bits) and 24 vdpbf16ps; masked stores into out. AMX body:
 * groups of 32 rows, four accumulator tiles over all of k in steps of 32;
 * a full tile is stored into out directly, a partial one through a block
 * on the stack. Each element of out is written once.
 */
#include "kernels/bf16_gemm.h"

#include <string.h>

#include "util/cpu_features.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define BF16_GEMM_HAVE_KERNEL 1
#else
#define BF16_GEMM_HAVE_KERNEL 0
#endif

/* ------------------------------------------------------------------------
 * Conversion and packing
 * ---------------------------------------------------------------------- */

/* bf16_from_float on the bits of a float, without branches (so that loops
 * over rows vectorise). */
static inline uint16_t bf16_from_bits(uint32_t bits) {
    const uint32_t magnitude = bits & 0x7FFFFFFFu;
    /* Round to nearest even on the upper half; a carry into the exponent is
     * the right result (up to infinity past the largest value). */
    const uint32_t rounded = (bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16;
    const uint32_t quiet_nan = (bits >> 16) | 0x0040u, signed_zero = (bits >> 16) & 0x8000u;
    const uint32_t result = magnitude > 0x7F800000u ? quiet_nan : (magnitude < 0x00800000u ? signed_zero : rounded);
    return (uint16_t)result;
}

uint16_t bf16_from_float(float x) {
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    return bf16_from_bits(bits);
}

float bf16_to_float(uint16_t b) {
    uint32_t bits = (uint32_t)b << 16;
    float x;
    memcpy(&x, &bits, sizeof x);
    return x;
}

/* The k of one AMX step; the rows of one AMX group and of one vdpbf16ps group. */
enum { BF16_GEMM_K_STEP = 32, BF16_GEMM_AMX_ROWS = 32, BF16_GEMM_VECTOR_ROWS = 12 };

int bf16_gemm_padded_width(int K) { return (K + BF16_GEMM_K_STEP - 1) / BF16_GEMM_K_STEP * BF16_GEMM_K_STEP; }

int bf16_gemm_padded_rows(int n) { return (n + BF16_GEMM_AMX_ROWS - 1) / BF16_GEMM_AMX_ROWS * BF16_GEMM_AMX_ROWS; }

#if BF16_GEMM_HAVE_KERNEL
/* bf16_from_bits on 16 floats at once; returns how many of the n values
 * from source it converted (n rounded down to 16). */
__attribute__((target("avx512f,avx512bw"))) static int convert_vector(uint16_t *row, const float *source, int n) {
    const __m512i low_mask = _mm512_set1_epi32(0x7FFFFFFF), one = _mm512_set1_epi32(1);
    const __m512i half = _mm512_set1_epi32(0x7FFF), infinity = _mm512_set1_epi32(0x7F800000);
    const __m512i smallest = _mm512_set1_epi32(0x00800000), quiet = _mm512_set1_epi32(0x0040);
    const __m512i sign = _mm512_set1_epi32(0x8000);
    int k = 0;
    for (; k + 16 <= n; k += 16) {
        const __m512i bits = _mm512_loadu_si512(source + k), upper = _mm512_srli_epi32(bits, 16);
        const __m512i magnitude = _mm512_and_si512(bits, low_mask);
        const __m512i bias = _mm512_add_epi32(half, _mm512_and_si512(upper, one));
        __m512i result = _mm512_srli_epi32(_mm512_add_epi32(bits, bias), 16);
        result = _mm512_mask_mov_epi32(result, _mm512_cmpgt_epu32_mask(magnitude, infinity), _mm512_or_si512(upper, quiet));
        result = _mm512_mask_mov_epi32(result, _mm512_cmplt_epu32_mask(magnitude, smallest), _mm512_and_si512(upper, sign));
        _mm256_storeu_si256((__m256i *)(row + k), _mm512_cvtepi32_epi16(result));
    }
    return k;
}
#endif

void bf16_convert_rows(uint16_t *out, const float *in, int N, int K) {
    const int Kp = bf16_gemm_padded_width(K);
    for (int n = 0; n < N; n++) {
        uint16_t *row = out + (size_t)n * Kp;
        const float *source = in + (size_t)n * K;
        int k = 0;
#if BF16_GEMM_HAVE_KERNEL
        if (cpu_features_level() >= CPU_LEVEL_AVX512) k = convert_vector(row, source, K);
#endif
        for (; k < K; k++) {
            uint32_t bits;
            memcpy(&bits, source + k, sizeof bits);
            row[k] = bf16_from_bits(bits);
        }
        for (k = K; k < Kp; k++) row[k] = 0;
    }
}

int bf16_gemm_panels(int N) { return (N + BF16_GEMM_PANEL_ROWS - 1) / BF16_GEMM_PANEL_ROWS; }

size_t bf16_gemm_packed_values(int N, int K) {
    return (size_t)bf16_gemm_panels(N) * BF16_GEMM_PANEL_ROWS * (size_t)bf16_gemm_padded_width(K);
}

/* Where value k of weight row `row` lies in a packing of rows Kp wide:
 * panel row / 32, pair k / 2, row within the panel, k % 2. */
static size_t packed_index(int row, int k, int Kp) {
    return (size_t)(row / BF16_GEMM_PANEL_ROWS) * BF16_GEMM_PANEL_ROWS * Kp +
           ((size_t)(k / 2) * BF16_GEMM_PANEL_ROWS + row % BF16_GEMM_PANEL_ROWS) * 2 + (k & 1);
}

void bf16_gemm_pack_panel(uint16_t *packed, const float *weight, int N, int K, int panel) {
    enum { PIECE = 256 }; /* values converted at once (bf16_convert_rows), then placed pair by pair */
    const int Kp = bf16_gemm_padded_width(K);
    uint16_t piece[PIECE];
    for (int i = 0; i < BF16_GEMM_PANEL_ROWS; i++) {
        const int row = panel * BF16_GEMM_PANEL_ROWS + i;
        for (int k0 = 0; k0 < Kp; k0 += PIECE) {
            const int n = Kp - k0 < PIECE ? Kp - k0 : PIECE, filled = row < N && k0 < K ? (K - k0 < n ? K - k0 : n) : 0;
            if (filled > 0) bf16_convert_rows(piece, weight + (size_t)row * K + k0, 1, filled);
            for (int k = filled; k < n; k++) piece[k] = 0;
            for (int k = 0; k < n; k += 2)
                memcpy(packed + packed_index(row, k0 + k, Kp), piece + k, 2 * sizeof(uint16_t));
        }
    }
}

void bf16_gemm_copy_packed_row(uint16_t *packed, int to, const uint16_t *source, int from, int K) {
    const int Kp = bf16_gemm_padded_width(K);
    for (int k = 0; k < Kp; k += 2)
        memcpy(packed + packed_index(to, k, Kp), source + packed_index(from, k, Kp), 2 * sizeof(uint16_t));
}

bf16_gemm_body bf16_gemm_best_body(void) {
    if (!BF16_GEMM_HAVE_KERNEL) return BF16_GEMM_BODY_NONE;
    if (cpu_features_amx_bf16()) return BF16_GEMM_BODY_AMX;
    return cpu_features_bf16() ? BF16_GEMM_BODY_AVX512_BF16 : BF16_GEMM_BODY_NONE;
}

bool bf16_gemm_available(void) { return bf16_gemm_best_body() != BF16_GEMM_BODY_NONE; }

/* ------------------------------------------------------------------------
 * The bodies
 * ---------------------------------------------------------------------- */

#if BF16_GEMM_HAVE_KERNEL
#define BF16_GEMM_VECTOR_TARGET __attribute__((target("avx512f,avx512bf16")))

BF16_GEMM_VECTOR_TARGET static inline int32_t load_pair(const uint16_t *at) {
    int32_t pair;
    memcpy(&pair, at, sizeof pair);
    return pair;
}

/* One row i of a pair step: its pair broadcast and two vdpbf16ps. */
#define BF16_GEMM_STEP(i)                                                                                          \
    do {                                                                                                           \
        const __m512bh x_ = (__m512bh)_mm512_set1_epi32(load_pair(r[i] + 2 * p));                                  \
        c##i##a = _mm512_dpbf16_ps(c##i##a, x_, low_);                                                             \
        c##i##b = _mm512_dpbf16_ps(c##i##b, x_, high_);                                                            \
    } while (0)

/* out rows 0 .. rows-1, columns 0 .. columns-1 (ldo apart) <- the twelve
 * rows r[i] x the panel's 32 weight rows: one chain of vdpbf16ps per
 * element from 0, in k order. The accumulators are named one by one so
 * that they stay in registers. */
BF16_GEMM_VECTOR_TARGET static void vector_block(float *out, int ldo, const uint16_t *const r[BF16_GEMM_VECTOR_ROWS],
                                                 const uint16_t *panel, int Kp, int rows, int columns) {
    __m512 c0a = _mm512_setzero_ps(), c0b = c0a, c1a = c0a, c1b = c0a, c2a = c0a, c2b = c0a, c3a = c0a;
    __m512 c3b = c0a, c4a = c0a, c4b = c0a, c5a = c0a, c5b = c0a, c6a = c0a, c6b = c0a, c7a = c0a, c7b = c0a;
    __m512 c8a = c0a, c8b = c0a, c9a = c0a, c9b = c0a, c10a = c0a, c10b = c0a, c11a = c0a, c11b = c0a;
    const uint16_t *w = panel;
    for (int p = 0; p < Kp / 2; p++, w += 2 * BF16_GEMM_PANEL_ROWS) {
        const __m512bh low_ = (__m512bh)_mm512_load_si512(w);
        const __m512bh high_ = (__m512bh)_mm512_load_si512(w + BF16_GEMM_PANEL_ROWS);
        BF16_GEMM_STEP(0);
        BF16_GEMM_STEP(1);
        BF16_GEMM_STEP(2);
        BF16_GEMM_STEP(3);
        BF16_GEMM_STEP(4);
        BF16_GEMM_STEP(5);
        BF16_GEMM_STEP(6);
        BF16_GEMM_STEP(7);
        BF16_GEMM_STEP(8);
        BF16_GEMM_STEP(9);
        BF16_GEMM_STEP(10);
        BF16_GEMM_STEP(11);
    }
    const __m512 done[BF16_GEMM_VECTOR_ROWS][2] = {{c0a, c0b}, {c1a, c1b}, {c2a, c2b},   {c3a, c3b},
                                                   {c4a, c4b}, {c5a, c5b}, {c6a, c6b},   {c7a, c7b},
                                                   {c8a, c8b}, {c9a, c9b}, {c10a, c10b}, {c11a, c11b}};
    const __mmask16 low_mask = columns >= 16 ? 0xFFFF : (__mmask16)((1u << columns) - 1);
    const __mmask16 high_mask = columns >= 32 ? 0xFFFF : (columns > 16 ? (__mmask16)((1u << (columns - 16)) - 1) : 0);
    for (int i = 0; i < rows; i++) {
        _mm512_mask_storeu_ps(out + (size_t)i * ldo, low_mask, done[i][0]);
        _mm512_mask_storeu_ps(out + (size_t)i * ldo + 16, high_mask, done[i][1]);
    }
}

/* The vdpbf16ps body. */
static void vector_gemm(float *out, int ldo, const uint16_t *rows, int M, const uint16_t *packed, int N, int K) {
    const int Kp = bf16_gemm_padded_width(K);
    for (int n0 = 0; n0 < N; n0 += BF16_GEMM_PANEL_ROWS) {
        const uint16_t *panel = packed + (size_t)n0 * Kp;
        const int columns = N - n0 < BF16_GEMM_PANEL_ROWS ? N - n0 : BF16_GEMM_PANEL_ROWS;
        for (int m0 = 0; m0 < M; m0 += BF16_GEMM_VECTOR_ROWS) {
            const int count = M - m0 < BF16_GEMM_VECTOR_ROWS ? M - m0 : BF16_GEMM_VECTOR_ROWS;
            /* Past the last row the block reads the first one again; those results are not stored. */
            const uint16_t *r[BF16_GEMM_VECTOR_ROWS];
            for (int i = 0; i < BF16_GEMM_VECTOR_ROWS; i++) r[i] = rows + (size_t)(m0 + (i < count ? i : 0)) * Kp;
            vector_block(out + (size_t)m0 * ldo + n0, ldo, r, panel, Kp, count, columns);
        }
    }
}

#define BF16_GEMM_AMX_TARGET __attribute__((target("amx-tile,amx-bf16")))

/* The tile configuration of palette 1 (64 bytes, as LDTILECFG reads it). */
typedef struct amx_tile_config {
    uint8_t palette, start_row;
    uint8_t reserved[14];
    uint16_t bytes_per_row[16];
    uint8_t rows[16];
} amx_tile_config;

/* Accumulator tile t (rows 16 (t / 2) .., weight rows 16 (t % 2) .. of the
 * block at out) into out: straight when whole, else through sums. */
#define BF16_GEMM_AMX_STORE(t)                                                                                     \
    do {                                                                                                           \
        const int row0_ = 16 * ((t) / 2), column0_ = 16 * ((t) % 2);                                               \
        float *at_ = out + (size_t)(m0 + row0_) * ldo + n0 + column0_;                                             \
        if (row0_ + 16 <= count && column0_ + 16 <= columns) {                                                     \
            _tile_stored(t, at_, (size_t)ldo * sizeof(float));                                                     \
        } else if (row0_ < count && column0_ < columns) {                                                          \
            _tile_stored(t, sums, 16 * sizeof(float));                                                             \
            for (int i_ = 0; i_ < 16 && row0_ + i_ < count; i_++)                                                  \
                for (int j_ = 0; j_ < 16 && column0_ + j_ < columns; j_++) at_[(size_t)i_ * ldo + j_] = sums[i_][j_]; \
        }                                                                                                          \
    } while (0)

/* The AMX body. Tiles 0-3 accumulate (rows 0-15 or 16-31 of the group x
 * weight rows 0-15 or 16-31 of the panel), 4-5 hold rows, 6-7 weight rows;
 * every tile is 16 rows of 64 bytes. */
BF16_GEMM_AMX_TARGET static void amx_gemm(float *out, int ldo, const uint16_t *rows, int M, const uint16_t *packed,
                                          int N, int K) {
    const int Kp = bf16_gemm_padded_width(K);
    amx_tile_config config = {.palette = 1};
    for (int t = 0; t < 8; t++) config.rows[t] = 16, config.bytes_per_row[t] = 64;
    _tile_loadconfig(&config);
    float sums[16][16] __attribute__((aligned(64)));
    const size_t row_stride = (size_t)Kp * sizeof(uint16_t), pair_stride = 2 * BF16_GEMM_PANEL_ROWS * sizeof(uint16_t);
    for (int n0 = 0; n0 < N; n0 += BF16_GEMM_PANEL_ROWS) {
        const uint16_t *panel = packed + (size_t)n0 * Kp;
        const int columns = N - n0 < BF16_GEMM_PANEL_ROWS ? N - n0 : BF16_GEMM_PANEL_ROWS;
        for (int m0 = 0; m0 < M; m0 += BF16_GEMM_AMX_ROWS) {
            const int count = M - m0 < BF16_GEMM_AMX_ROWS ? M - m0 : BF16_GEMM_AMX_ROWS;
            const uint16_t *group = rows + (size_t)m0 * Kp;
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            for (int k0 = 0; k0 < Kp; k0 += BF16_GEMM_K_STEP) {
                const uint16_t *pairs = panel + (size_t)(k0 / 2) * 2 * BF16_GEMM_PANEL_ROWS;
                _tile_loadd(4, group + k0, row_stride);
                _tile_loadd(5, group + 16 * (size_t)Kp + k0, row_stride);
                _tile_loadd(6, pairs, pair_stride);
                _tile_loadd(7, pairs + 32, pair_stride);
                _tile_dpbf16ps(0, 4, 6);
                _tile_dpbf16ps(1, 4, 7);
                _tile_dpbf16ps(2, 5, 6);
                _tile_dpbf16ps(3, 5, 7);
            }
            BF16_GEMM_AMX_STORE(0);
            BF16_GEMM_AMX_STORE(1);
            BF16_GEMM_AMX_STORE(2);
            BF16_GEMM_AMX_STORE(3);
        }
    }
    _tile_release();
}

void bf16_gemm_with(bf16_gemm_body body, float *out, int ldo, const uint16_t *rows, int M, const uint16_t *packed,
                    int N, int K) {
    if (body == BF16_GEMM_BODY_AMX)
        amx_gemm(out, ldo, rows, M, packed, N, K);
    else if (body == BF16_GEMM_BODY_AVX512_BF16)
        vector_gemm(out, ldo, rows, M, packed, N, K);
}

#else

void bf16_gemm_with(bf16_gemm_body body, float *out, int ldo, const uint16_t *rows, int M, const uint16_t *packed,
                    int N, int K) {
    (void)body, (void)out, (void)ldo, (void)rows, (void)M, (void)packed, (void)N, (void)K;
}

#endif

void bf16_gemm(float *out, int ldo, const uint16_t *rows, int M, const uint16_t *packed, int N, int K) {
    bf16_gemm_with(bf16_gemm_best_body(), out, ldo, rows, M, packed, N, K);
}
