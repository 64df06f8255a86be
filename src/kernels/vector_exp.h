/*
 * vector_exp.h - e^x over an array of floats, vectorised where the CPU can.
 *
 * Three bodies, one per level of util/cpu_features.h: AVX-512F (16 lanes)
 * at avx512, AVX2 with FMA (8 lanes) at avx2, and plain C with libm's expf
 * at portable, which is also the reference the other two are tested
 * against.
 */
#ifndef LOUPE_KERNELS_VECTOR_EXP_H
#define LOUPE_KERNELS_VECTOR_EXP_H

#include <stddef.h>

/* The bound on every body's relative error against e^x in double, where
 * e^x is a normal float: about 1.3 ulp (the vector bodies measure 8.4e-8
 * over a sweep of all floats, glibc's expf 6.0e-8). Where e^x is subnormal
 * the absolute error is below 1e-44 (at most one subnormal step). */
#define VECTOR_EXP_MAX_RELATIVE_ERROR 1.5e-7

/* y (n) = e^x (n), elementwise; y may equal x. e^x above FLT_MAX (x above
 * about 88.72, +inf included) gives +inf; x below about -103.97 (-inf
 * included) gives 0; NaN gives NaN. The result of an element does not
 * depend on n or on its position, only on the body. */
void vector_exp(const float *x, float *y, size_t n);

#endif
