/*
 * test_tile_gemm.c - the lens's projection kernel (src/kernels/tile_gemm.h)
 * against matmul_reference (double sums), on shapes that leave partial row
 * panels, partial groups of weight rows and partial blocks of K; and the
 * property the lens relies on: an element's bits do not depend on the
 * call it was computed in. ctest runs it once per level (LOUPE_CPU): below
 * avx512 it checks only that the kernel is not offered, as the lens then
 * uses matmul.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/matmul.h"
#include "kernels/tile_gemm.h"
#include "test_support.h"
#include "util/cpu_features.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define TEST_TILE_GEMM_X86 true
#else
#define TEST_TILE_GEMM_X86 false
#endif

/* Stops the calling test function when an allocation failed. */
#define REQUIRE_VOID(condition)  \
    do {                         \
        if (!(condition)) {      \
            CHECK(condition);    \
            return;              \
        }                        \
    } while (0)

static uint64_t random_state = 0x9E3779B97F4A7C15ull;

/* Uniform in [-0.5, 0.5). */
static float random_value(void) { return (float)(test_random_unit(&random_state) - 0.5); }

/* rows (M, K) with a positive bias, so that sums do not cancel and the
 * tolerance is tight; weight (N, K). */
static void fill(float *rows, int M, float *weight, int N, int K) {
    for (size_t i = 0; i < (size_t)M * K; i++) rows[i] = random_value() + 0.2f;
    for (size_t i = 0; i < (size_t)N * K; i++) weight[i] = random_value() + 0.1f;
}

static float *pack(const float *rows, int M, int K) {
    float *packed = aligned_alloc(64, tile_gemm_packed_floats(M, K) * sizeof(float));
    if (packed == NULL) return NULL;
    for (int panel = 0; panel < tile_gemm_panels(M); panel++) tile_gemm_pack_panel(packed, rows, M, K, panel);
    return packed;
}

/* The product against the reference: each element within a bound on
 * float rounding for chains of the kernel's K blocks, relative to the sum
 * of |terms|; columns past N untouched. */
static void check_shape(int M, int N, int K) {
    const int ldo = N + 3;
    float *rows = malloc((size_t)M * K * sizeof(float)), *weight = malloc((size_t)N * K * sizeof(float));
    float *out = malloc((size_t)M * ldo * sizeof(float)), *expected = malloc((size_t)M * N * sizeof(float));
    REQUIRE_VOID(rows && weight && out && expected);
    fill(rows, M, weight, N, K);
    float *packed = pack(rows, M, K);
    for (size_t i = 0; i < (size_t)M * ldo; i++) out[i] = NAN;
    tile_gemm(out, ldo, packed, M, weight, N, K);
    matmul_reference(expected, rows, weight, NULL, M, K, N, MATMUL_WEIGHT_OUT_IN, false);
    int bad = 0, untouched = 1;
    double worst = 0.0;
    for (int m = 0; m < M; m++) {
        for (int n = 0; n < N; n++) {
            double magnitude = 0.0;
            for (int k = 0; k < K; k++) magnitude += fabs((double)rows[(size_t)m * K + k] * weight[(size_t)n * K + k]);
            double bound = (double)(K < 128 ? K : 128 + K / 128 + 2) * FLT_EPSILON * magnitude + 1e-30;
            double error = fabs((double)out[(size_t)m * ldo + n] - expected[(size_t)m * N + n]);
            if (!(error <= bound)) bad++;
            if (error / bound > worst) worst = error / bound;
        }
        for (int n = N; n < ldo; n++) untouched &= isnan(out[(size_t)m * ldo + n]);
    }
    CHECK_MSG(bad == 0, "M %d N %d K %d: %d elements off (worst %.2f of the bound)", M, N, K, bad, worst);
    CHECK_MSG(untouched, "M %d N %d K %d: wrote past column N", M, N, K);
    free(packed);
    free(rows);
    free(weight);
    free(out);
    free(expected);
}

/* A block of the product computed alone - its rows packed from another
 * row, so they fall at other places in the panels, and its weight rows
 * grouped differently - has the same bits as in the whole product. */
static void check_same_bits(void) {
    enum { M = 70, N = 50, K = 300, FIRST_ROW = 33, FIRST_COLUMN = 7 };
    static float rows[M * K], weight[N * K], whole[M * N], part[M * N];
    fill(rows, M, weight, N, K);
    float *packed = pack(rows, M, K);
    float *packed_part = pack(rows + (size_t)FIRST_ROW * K, M - FIRST_ROW, K);
    REQUIRE_VOID(packed && packed_part);
    tile_gemm(whole, N, packed, M, weight, N, K);
    tile_gemm(part, N - FIRST_COLUMN, packed_part, M - FIRST_ROW, weight + (size_t)FIRST_COLUMN * K, N - FIRST_COLUMN,
              K);
    int differ = 0;
    for (int m = FIRST_ROW; m < M; m++)
        for (int n = FIRST_COLUMN; n < N; n++)
            differ += memcmp(&whole[(size_t)m * N + n],
                             &part[(size_t)(m - FIRST_ROW) * (N - FIRST_COLUMN) + (n - FIRST_COLUMN)], sizeof(float)) != 0;
    CHECK_MSG(differ == 0, "%d elements of the block differ in their bits from the whole product", differ);
    free(packed);
    free(packed_part);
}

int main(void) {
    test_require_cpu_level("test_tile_gemm");
    /* The kernel runs exactly at the avx512 level (and only on x86-64). */
    const bool expected = cpu_features_level() >= CPU_LEVEL_AVX512 && TEST_TILE_GEMM_X86;
    CHECK(tile_gemm_available() == expected);
    if (!tile_gemm_available()) {
        printf("test_tile_gemm: the kernel does not run at this level; the lens uses matmul (tested by test_lens)\n");
        return test_finish("test_tile_gemm");
    }
    const int shapes[][3] = {{1, 1, 1},    {5, 7, 3},     {31, 13, 17},  {32, 12, 128}, {33, 25, 129},
                             {64, 24, 256}, {70, 50, 300}, {12, 11, 1000}, {312, 512, 768}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) check_shape(shapes[i][0], shapes[i][1], shapes[i][2]);
    check_same_bits();
    return test_finish("test_tile_gemm");
}
