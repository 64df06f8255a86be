/*
 * lens_bf16.c - see lens_bf16.h; the bound's derivation is in
 * docs/PRECISION.md, whose symbols the code uses.
 */
#include "lens/lens_bf16.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/bf16_gemm.h"

/* Largest magnitude the derivation admits for an entry and for A X: no
 * rounding to BF16 overflows, no partial sum leaves float32's range. */
#define LENS_BF16_LIMIT 0x1p100

/* Whether every entry of row (K) is a BF16 value already (bf16_from_float
 * would return it unchanged): its low 16 bits are zero and it is not
 * subnormal. */
static bool row_is_bf16(const float *row, int K) {
    bool exact = true;
    for (int k = 0; k < K; k++) {
        uint32_t bits;
        memcpy(&bits, row + k, sizeof bits);
        const uint32_t magnitude = bits & 0x7FFFFFFFu;
        exact &= (bits & 0xFFFFu) == 0 && (magnitude == 0 || magnitude >= 0x00800000u);
    }
    return exact;
}

bool lens_bf16_unembedding_build(lens_bf16_unembedding *out, const weight_view *unembedding, int V, int K) {
    const int panels = bf16_gemm_panels(V);
    const float *in_place = weight_view_f32(unembedding);
    /* panels of 32 Kp values are whole 64-byte lines */
    out->rows = aligned_alloc(64, bf16_gemm_packed_values(V, K) * sizeof(uint16_t));
    out->V = V, out->K = K;
    out->max_row_norm = 0.0;
    out->exact = true;
    if (out->rows == NULL) return false;
    double max_norm = 0.0;
    bool exact = true, converted_all = true;
#pragma omp parallel reduction(max : max_norm) reduction(&& : exact, converted_all)
    {
        /* a BF16 or F16 unembedding: one panel of rows as floats at a time */
        float *floats = in_place ? NULL : malloc((size_t)BF16_GEMM_PANEL_ROWS * K * sizeof(float));
        converted_all = in_place != NULL || floats != NULL;
#pragma omp for schedule(static)
    for (int panel = 0; panel < panels; panel++) {
        if (!converted_all) continue;
        const int first = panel * BF16_GEMM_PANEL_ROWS;
        const int n = V - first < BF16_GEMM_PANEL_ROWS ? V - first : BF16_GEMM_PANEL_ROWS;
        const float *panel_rows = in_place ? in_place + (size_t)first * K : floats;
        if (!in_place) weight_view_to_f32(unembedding, first, n, 0, K, floats, K);
        bf16_gemm_pack_panel(out->rows + (size_t)first * bf16_gemm_padded_width(K), panel_rows, n, K, 0);
        for (int i = 0; i < n; i++) {
            const float *row = panel_rows + (size_t)i * K;
            exact = exact && row_is_bf16(row, K);
            /* +inf for an entry too large to bound (a NaN too): the max keeps it */
            const double norm = lens_bf16_row_norm(row, K);
            max_norm = norm > max_norm ? norm : max_norm;
        }
    }
        free(floats);
    }
    if (!converted_all) {
        lens_bf16_unembedding_free(out);
        return false;
    }
    out->max_row_norm = max_norm;
    out->exact = exact;
    return true;
}

void lens_bf16_unembedding_free(lens_bf16_unembedding *unembedding) {
    free(unembedding->rows);
    unembedding->rows = NULL;
}

double lens_bf16_row_norm(const float *row, int K) {
    /* four partial sums in a fixed order: the same bits on every call */
    double squares[4] = {0.0, 0.0, 0.0, 0.0};
    float largest = 0.0f;
    int k = 0;
    for (; k + 4 <= K; k += 4)
        for (int lane = 0; lane < 4; lane++) {
            const float magnitude = fabsf(row[k + lane]);
            squares[lane] += (double)magnitude * magnitude;
            largest = magnitude > largest || magnitude != magnitude ? magnitude : largest;
        }
    for (; k < K; k++) {
        const float magnitude = fabsf(row[k]);
        squares[0] += (double)magnitude * magnitude;
        largest = magnitude > largest || magnitude != magnitude ? magnitude : largest;
    }
    if (!(largest < LENS_BF16_LIMIT)) return INFINITY;
    /* K squares (exact in double) summed in any order with fewer than K
     * roundings of 2^-53, and a square root of one more: (K + 4) 2^-52
     * covers both. */
    return sqrt((squares[0] + squares[1]) + (squares[2] + squares[3])) * (1.0 + (K + 4) * 0x1p-52);
}

float lens_bf16_logit_error_bound(const lens_bf16_unembedding *unembedding, double row_norm) {
    const double A = unembedding->max_row_norm, X = row_norm;
    if (!(A < LENS_BF16_LIMIT) || !(X < LENS_BF16_LIMIT) || !(A * X < LENS_BF16_LIMIT)) return INFINITY;
    const double K = unembedding->K, Kp = bf16_gemm_padded_width(unembedding->K), root_K = sqrt(K) * (1 + 0x1p-52);
    /* unit_a: the kernel's accumulation, any rounding below 2^-23 (docs/PRECISION.md) */
    const double unit = 0x1p-24, unit_a = 0x1p-23, unit_b = 0x1p-8, eta = 0x1p-126;
    const double unit_w = unembedding->exact ? 0.0 : unit_b, eta_w = unembedding->exact ? 0.0 : eta;
    /* gamma_n = n u / (1 - n u), for the bf16 kernel's Kp and the exact path's K products */
    const double gamma_b = Kp * unit_a / (1.0 - Kp * unit_a), gamma_f = K * unit / (1.0 - K * unit);
    /* (1) the rounding of both operands to BF16 */
    const double rounding = (unit_w * (1 + unit_b) + unit_b) * A * X + (1 + unit_w) * eta * root_K * A +
                            eta_w * (1 + unit_b) * root_K * X + K * eta_w * eta;
    /* (2) sum |products| of the BF16 operands */
    const double magnitude = (1 + unit_w) * (1 + unit_b) * A * X + (1 + unit_w) * eta * root_K * A +
                             eta_w * (1 + unit_b) * root_K * X + K * eta_w * eta;
    /* (3) the kernel's float32 accumulation, (4) the exact path's */
    /* the flushes' absolute errors grow by at most 1 + gamma through the later additions */
    const double beta =
        rounding + gamma_b * magnitude + 2 * Kp * eta * (1 + gamma_b) + gamma_f * A * X + 2 * K * eta * (1 + gamma_f);
    /* Some twenty roundings of this evaluation, and the decimal the JSON
     * prints (nine digits): 2^-20 covers them many times over. */
    const float bound = (float)(beta * (1 + 0x1p-20));
    return (double)bound >= beta ? bound : nextafterf(bound, INFINITY);
}
