/*
 * ball_matmul.h - the certified matrix product: an input of balls times a
 * weight matrix of floats (optionally widened to w [1 - R, 1 + R]) plus a
 * bias, by Rump's midpoint-radius product over BLAS.
 *
 * Each input row takes the cheapest midpoint GEMM that keeps it tight. A
 * narrow row's midpoints go through a double GEMM (dgemm: its a priori
 * error gamma_K(double) |mid| |W| is some 10^-13 of the product, so the
 * intervals start tight). A row whose balls are already wide (radius above
 * 2^-8 of the midpoints, summed over the row) goes through a float GEMM of
 * its midpoints rounded to float, whose error (2^-24 + gamma_K(float))
 * |mid| |W| is then a small part of the radius and which costs half as
 * much (unless its midpoints are too large for float products). A row
 * with an infinite radius (nothing known) gets infinite output radii and
 * only the midpoint GEMM. Each GEMM takes its rows gathered. The radius is one float GEMM of nonnegative
 * operands,
 *     rad_out >= ((R + e) |mid| + (1 + R) rad) x |W| + R |bias|,
 * e the midpoint GEMM's relative error term,
 * whose own rounding is bounded a priori in round-to-nearest:
 * exact <= (computed + K eta) / (1 - gamma_K(float)), eta the smallest
 * subnormal (underflow). The bound holds for any summation order, blocking
 * and fused multiply-adds the BLAS may use, and needs no rounding mode
 * (BLAS threads would not inherit one). It assumes the BLAS neither flushes
 * subnormals to zero nor computes in less than the type's precision.
 * docs/CERTIFY.md has the derivation.
 *
 * Shapes: M rows, K the reduction, N outputs.
 */
#ifndef LOUPE_INTERVAL_BALL_MATMUL_H
#define LOUPE_INTERVAL_BALL_MATMUL_H

#include <stdbool.h>
#include <stddef.h>

#include "kernels/matmul.h"
#include "kernels/weight_view.h"

/* A weight matrix prepared for ball products: its values in double and
 * their magnitudes in float, in the layout of the float original. */
typedef struct ball_weight {
    const float *floats;      /* (K, N) or (N, K) as layout: the weights themselves */
    const double *values;     /* the same in double */
    const float *magnitudes;  /* the same shape: |w| */
    int K, N;
    matmul_layout layout;
} ball_weight;

/* Scratch of one ball product: sized once for the largest product. */
typedef struct ball_matmul_workspace {
    double *in_double;   /* (M K) the narrow rows' midpoints, gathered, for the double midpoint GEMM */
    float *in_radius;    /* (M K) the bounded rows' radius operand, gathered: the radius GEMM's left operand */
    float *in_float;     /* (M K) the other rows' midpoints rounded to float, gathered, for the float midpoint GEMM */
    float *out_float;    /* (M N) its product */
    double *out_mid;     /* (M N) */
    float *out_radius;   /* (M N) */
    double *weight_values;    /* (K N) for ball_weight_prepare into the workspace */
    float *weight_magnitudes; /* (K N) */
    float *weight_floats;     /* (K N) */
    size_t capacity_in, capacity_out, capacity_weight;
    int *row_plan;       /* (3 M) how each row is multiplied and where it is gathered */
    float *zeros;        /* (N) the bias of a product without one */
    void *arena;
} ball_matmul_workspace;

/* Allocates a workspace for products with at most in_entries = M K,
 * out_entries = M N and weight_entries = K N; 0 on success, -1 when out
 * of memory. Free with ball_matmul_workspace_free (a zeroed workspace is a
 * no-op). */
int ball_matmul_workspace_build(ball_matmul_workspace *workspace, size_t in_entries, size_t out_entries,
                                size_t weight_entries);
void ball_matmul_workspace_free(ball_matmul_workspace *workspace);

/* Fills floats (K N, the weight as float32, exactly), values (K N
 * doubles) and magnitudes (K N floats) from the view weight, (K, N) or
 * (N, K) as layout, and points *prepared at them. */
void ball_weight_prepare(ball_weight *prepared, const weight_view *weight, int K, int N, matmul_layout layout,
                         float *floats, double *values, float *magnitudes);

/* The same into the workspace's weight buffers (K N within their capacity). */
void ball_weight_prepare_in(ball_weight *prepared, const weight_view *weight, int K, int N, matmul_layout layout,
                            ball_matmul_workspace *workspace);

/* out (M, N) = in (M, K) x weight [+ bias (N)] [+ out when accumulate], as
 * balls: out_mid, out_rad (M, N) contain every exact result for inputs in
 * the balls (in_mid, in_rad) (in_rad NULL: exact inputs), weights in
 * w [1 - weight_radius, 1 + weight_radius] and the bias widened the same
 * way. M K and M N within the workspace's capacities. Outputs may not
 * overlap inputs. */
void ball_matmul(double *out_mid, float *out_rad, const double *in_mid, const float *in_rad, const ball_weight *weight,
                 const float *bias, int M, double weight_radius, bool accumulate, ball_matmul_workspace *workspace);

#endif
