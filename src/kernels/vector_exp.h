/*
 * vector_exp.h - e^x over an array of floats, vectorised where the CPU can.
 *
 * Three bodies, the fastest one the CPU has chosen at run time: AVX-512F
 * (16 lanes), AVX2 with FMA (8 lanes) and plain C with libm's expf, which
 * is also the reference the other two are tested against.
 */
#ifndef LOUPE_KERNELS_VECTOR_EXP_H
#define LOUPE_KERNELS_VECTOR_EXP_H

#include <stdbool.h>
#include <stddef.h>

/* The bound on every body's relative error against e^x in double, where
 * e^x is a normal float: about 1.3 ulp (the vector bodies measure 8.4e-8
 * over a sweep of all floats, glibc's expf 6.0e-8). Where e^x is subnormal
 * the absolute error is below 1e-44 (at most one subnormal step). */
#define VECTOR_EXP_MAX_RELATIVE_ERROR 1.5e-7

typedef enum vector_exp_body {
    VECTOR_EXP_BODY_PORTABLE, /* libm's expf, one float at a time; any CPU */
    VECTOR_EXP_BODY_AVX2,     /* 8 lanes; x86-64 with AVX2 and FMA */
    VECTOR_EXP_BODY_AVX512,   /* 16 lanes; x86-64 with AVX-512F */
} vector_exp_body;

/* y (n) = e^x (n), elementwise; y may equal x. e^x above FLT_MAX (x above
 * about 88.72, +inf included) gives +inf; x below about -103.97 (-inf
 * included) gives 0; NaN gives NaN. The result of an element does not
 * depend on n or on its position, only on the body. */
void vector_exp(const float *x, float *y, size_t n);

/* The fastest body this CPU has (the one vector_exp runs unless told). */
vector_exp_body vector_exp_best_body(void);

/* Makes vector_exp run body from now on (for tests and timings); returns
 * false and changes nothing when the CPU lacks it. Not to be called while
 * vector_exp runs on another thread. */
bool vector_exp_use_body(vector_exp_body body);

#endif
