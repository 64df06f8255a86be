/*
 * bf16_gemm.h - the bf16 lens's projection product: rows rounded to BF16
 * times weight rows in BF16, with the CPU's BF16 dot-product instructions
 * accumulating in float32: AMX's tiles (TDPBF16PS) where the CPU and the
 * OS have them, else AVX512_BF16 (vdpbf16ps).
 *
 *   out (M, N) = bf16(rows) (M, K) x bf16(weight) (N, K)^T
 *
 * Both instructions add the products of two adjacent k in one float32
 * lane, so one layout serves both bodies:
 *   - rows: row-major BF16 (bf16_convert_rows), Kp values apart, where Kp
 *     is K rounded up to a multiple of 32 and the padding is zero;
 *   - weight rows: panels of 32 rows, pair-major (per pair of k, 32 rows x
 *     2 values; bf16_gemm_pack_panel), made once per weight.
 * The bodies:
 *   - vdpbf16ps: 12 rows x 32 weight rows of accumulators; per pair of k,
 *     two weight registers, each row's pair broadcast, 24 vdpbf16ps (on
 *     Sapphire Rapids no more multiply-adds per cycle than float32 FMA);
 *   - AMX: 32 rows x 32 weight rows in four 16 x 16 accumulator tiles; per
 *     32 values of k, two row tiles (16 rows x 32 values, straight from the
 *     rows) and two weight tiles (16 pairs x 16 weight rows, a 128-byte
 *     stride through the panel), four TDPBF16PS; full tiles are stored
 *     straight into out. Several times float32's rate.
 *
 * Arithmetic (what docs/PRECISION.md's bound relies on): bf16_from_float
 * rounds to nearest even, a float below 2^-126 in magnitude becomes a zero
 * of its sign (both instructions treat BF16 subnormals as zero anyway); a
 * product of two BF16 values is exact in float32 unless it underflows, and
 * every element is one chain from 0 in k order of additions of products to
 * a float32 accumulator, each rounded once (to nearest even, as both
 * instructions are documented to; the bound assumes only a rounding error
 * below 2^-23), results below 2^-126 flushed to zero. So an element
 * differs from the exact sum of its Kp products by at most
 * gamma sum |products| + 2 Kp 2^-126, gamma = Kp 2^-23 / (1 - Kp 2^-23).
 * Its value depends only on its row and its weight row, never on M, N or
 * how the calls were cut: two calls sharing a row and a weight row give
 * the same bits (the lens checks the tokens' logits against its tiles).
 * tests/reference/bf16_gemm_reference.c is the oracle.
 */
#ifndef LOUPE_KERNELS_BF16_GEMM_H
#define LOUPE_KERNELS_BF16_GEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Weight rows per packed panel. */
enum { BF16_GEMM_PANEL_ROWS = 32 };

/* The bodies, best last. */
typedef enum bf16_gemm_body {
    BF16_GEMM_BODY_NONE = 0,    /* no BF16 instructions here */
    BF16_GEMM_BODY_AVX512_BF16, /* vdpbf16ps: cpu_features_bf16() */
    BF16_GEMM_BODY_AMX,         /* TDPBF16PS: cpu_features_amx_bf16() */
} bf16_gemm_body;

/* The best body this CPU, its OS and LOUPE_CPU allow (util/cpu_features.h). */
bf16_gemm_body bf16_gemm_best_body(void);

/* Whether the kernel may run here: a body other than none. There is no
 * emulation: callers refuse the bf16 mode without it. */
bool bf16_gemm_available(void);

/* The BF16 value nearest x (ties to even); |x| < 2^-126 gives a zero of
 * x's sign, a NaN a quiet NaN, values past BF16's largest infinity. */
uint16_t bf16_from_float(float x);

/* The float32 whose value the BF16 value b has (exact). */
float bf16_to_float(uint16_t b);

/* K rounded up to a multiple of 32: the distance between rows. */
int bf16_gemm_padded_width(int K);

/* n rounded up to a multiple of 32: the rows the kernel may read of an
 * operand of n rows (it reads whole groups; results past n are not
 * stored). */
int bf16_gemm_padded_rows(int n);

/* out (N, Kp) <- bf16_from_float of in (N, K), each row padded with zeros
 * to Kp = bf16_gemm_padded_width(K): the rows operand. Rows are
 * independent: threads may convert different rows at once. */
void bf16_convert_rows(uint16_t *out, const float *in, int N, int K);

/* Panels that N weight rows fill (the last one padded with zeros). */
int bf16_gemm_panels(int N);

/* BF16 values of N weight rows packed: panels x 32 x Kp. */
size_t bf16_gemm_packed_values(int N, int K);

/* Panel `panel` of packed (bf16_gemm_packed_values(N, K), 64-byte aligned)
 * <- weight rows panel * 32 .. + 31 of weight (N, K) row-major, rounded by
 * bf16_from_float; rows past N and the pad past K as zeros. Panels are
 * independent: threads may pack different panels at once. */
void bf16_gemm_pack_panel(uint16_t *packed, const float *weight, int N, int K, int panel);

/* Weight row `to` of the packing `packed` <- weight row `from` of the
 * packing `source` (both of rows of K). */
void bf16_gemm_copy_packed_row(uint16_t *packed, int to, const uint16_t *source, int from, int K);

/* out (M, N), rows ldo floats apart <- rows (M, Kp) x the weight rows
 * packed from the start of a panel, weight rows 0 .. N-1 of it, with the
 * best body. rows must have bf16_gemm_padded_rows(M) readable rows and
 * packed bf16_gemm_panels(N) panels; rows is 64-byte aligned. Requires
 * bf16_gemm_available() and M, N, K >= 1. */
void bf16_gemm(float *out, int ldo, const uint16_t *rows, int M, const uint16_t *packed, int N, int K);

/* The same with a given body, which must be available (body <=
 * bf16_gemm_best_body()): for the tests, which check each body. */
void bf16_gemm_with(bf16_gemm_body body, float *out, int ldo, const uint16_t *rows, int M, const uint16_t *packed,
                    int N, int K);

#endif
