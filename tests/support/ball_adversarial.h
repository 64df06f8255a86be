/*
 * ball_adversarial.h - a product whose rounding error is all there is: each
 * row of in (6, 3) holds 2^40, -2^40 and 2^-20 in one of the six orders,
 * times a weight column of 2^20, so the products are 2^60, -2^60 and 1 and
 * the exact result is 1 (by hand). Summed in floating point in any fixed
 * order, some row adds the 1 to a 2^60 first and loses it: the computed
 * midpoint is 0 there, and only the GEMM's rounding term in the radius
 * (gamma_3 (2^61 + 1), about 768) keeps the exact 1 inside the ball.
 * Shared by test_ball_kernels (the product as built must contain every
 * exact 1) and test_ball_knockout (the same product built without that term
 * must miss one).
 */
#ifndef LOUPE_TEST_BALL_ADVERSARIAL_H
#define LOUPE_TEST_BALL_ADVERSARIAL_H

#include <math.h>

#include "interval/ball.h"
#include "interval/ball_matmul.h"

enum { ADVERSARIAL_ROWS = 6, ADVERSARIAL_K = 3 };

/* Runs the product through ball_matmul and returns how many of the six
 * balls miss the exact result 1. */
static int ball_adversarial_misses(void) {
    static const int orders[ADVERSARIAL_ROWS][ADVERSARIAL_K] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                                                {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    const double values[ADVERSARIAL_K] = {0x1p40, -0x1p40, 0x1p-20};
    double in[ADVERSARIAL_ROWS * ADVERSARIAL_K];
    float weight[ADVERSARIAL_K] = {0x1p20f, 0x1p20f, 0x1p20f};
    for (int r = 0; r < ADVERSARIAL_ROWS; r++)
        for (int k = 0; k < ADVERSARIAL_K; k++) in[r * ADVERSARIAL_K + k] = values[orders[r][k]];
    ball_matmul_workspace workspace;
    if (ball_matmul_workspace_build(&workspace, ADVERSARIAL_ROWS * ADVERSARIAL_K, ADVERSARIAL_ROWS,
                                    ADVERSARIAL_K) != 0)
        return ADVERSARIAL_ROWS;
    ball_weight prepared;
    weight_view view = {.dtype = WEIGHT_DTYPE_F32, .data = weight, .rows = ADVERSARIAL_K, .columns = 1};
    ball_weight_prepare_in(&prepared, &view, ADVERSARIAL_K, 1, MATMUL_WEIGHT_IN_OUT, &workspace);
    double mid[ADVERSARIAL_ROWS];
    float rad[ADVERSARIAL_ROWS];
    ball_matmul(mid, rad, in, NULL, &prepared, NULL, ADVERSARIAL_ROWS, 0.0, false, &workspace);
    ball_matmul_workspace_free(&workspace);
    int misses = 0;
    for (int r = 0; r < ADVERSARIAL_ROWS; r++) {
        double lo, hi;
        ball_bounds(mid[r], rad[r], &lo, &hi);
        misses += !(lo <= 1.0 && 1.0 <= hi);
    }
    return misses;
}

#endif
