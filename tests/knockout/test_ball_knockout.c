/*
 * test_ball_knockout.c - proves that the containment checks catch a
 * missing bound term: this program is built with its own copy of
 * src/interval/ball_matmul.c compiled with BALL_MATMUL_WITHOUT_ROUNDING_TERM
 * (the double GEMM's rounding term dropped from the radius), and the
 * adversarial product of ball_adversarial.h, which test_ball_kernels shows
 * contained by the product as built, must then miss its exact result.
 */
#include <stdio.h>

#include "ball_adversarial.h"
#include "test_support.h"

#ifndef BALL_MATMUL_WITHOUT_ROUNDING_TERM
#error "test_ball_knockout must be built with BALL_MATMUL_WITHOUT_ROUNDING_TERM"
#endif

int main(void) {
    int misses = ball_adversarial_misses();
    printf("without the rounding term, %d of %d adversarial balls miss the exact result\n", misses,
           ADVERSARIAL_ROWS);
    CHECK_MSG(misses > 0, "the knocked-out product still contains every exact result: the test is blind to it");
    return test_finish("test_ball_knockout");
}
