/*
 * tile_gemm.h - the lens's projection product: a fixed set of rows times
 * many chunks of the unembedding, with the rows packed once.
 *
 *   out (M, N) = rows (M, K) x weight (N, K)^T
 *
 * Through BLAS, every chunk of the vocabulary packs the same rows again.
 * Here they are packed once per block of positions (tile_gemm_pack_panel),
 * and the weight is not packed at all: the kernel keeps 32 rows x 12
 * weight rows of accumulators (AVX-512, 16 rows per register), loads the
 * packed rows along k and broadcasts each weight entry straight from its
 * row, twelve sequential streams. tile_gemm_available says whether the
 * kernel runs at this level (util/cpu_features.h); callers use matmul
 * otherwise.
 *
 * Each element is one chain of fused multiply-adds in k order, started from
 * 0: its value depends only on its row and its weight row, never on M, N,
 * where it sits in the tile or how the calls were cut. Two calls that share
 * a row and a weight row give the same bits (the lens relies on it to check
 * the tokens' logits against its tiles). matmul_reference is the oracle.
 */
#ifndef LOUPE_KERNELS_TILE_GEMM_H
#define LOUPE_KERNELS_TILE_GEMM_H

#include <stdbool.h>
#include <stddef.h>

/* Rows per packed panel, and weight rows per kernel call. */
enum { TILE_GEMM_PANEL_ROWS = 32, TILE_GEMM_WEIGHT_ROWS = 12 };

/* Whether callers should use the kernel: the level is avx512 (false off
 * x86-64). */
bool tile_gemm_available(void);

/* Panels that M rows fill (the last one padded with zeros). */
int tile_gemm_panels(int M);

/* Floats of a packing of M rows of K. */
size_t tile_gemm_packed_floats(int M, int K);

/* Panel `panel` of packed (tile_gemm_packed_floats(M, K), 64-byte aligned)
 * <- rows panel * 32 .. + 31 of rows (M, K) row-major, k-major (32 floats
 * per k), rows past M as zeros. Panels are independent: threads may pack
 * different panels at once. */
void tile_gemm_pack_panel(float *packed, const float *rows, int M, int K, int panel);

/* out (M, N), rows ldo floats apart <- the packed rows (M, K) x weight
 * (N, K)^T, weight rows K floats apart. Requires tile_gemm_available() and
 * M, N, K >= 1; M may be fewer rows than were packed. */
void tile_gemm(float *out, int ldo, const float *packed, int M, const float *weight, int N, int K);

#endif
