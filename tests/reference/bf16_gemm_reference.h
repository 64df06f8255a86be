/*
 * bf16_gemm_reference.h - the plain twin of kernels/bf16_gemm.h, the oracle
 * its test holds it to: the same BF16 inputs, summed in double.
 */
#ifndef LOUPE_TESTS_BF16_GEMM_REFERENCE_H
#define LOUPE_TESTS_BF16_GEMM_REFERENCE_H

/* out (M, N), rows ldo apart <- sum over k of bf16(rows[i][k]) x
 * bf16(weight[j][k]) in double (rows (M, K), weight (N, K) as floats, each
 * value rounded by bf16_from_float first); magnitude (M, N), same layout,
 * <- the sums of |those products|, which bound the kernel's float32
 * accumulation error. magnitude may be NULL. */
void bf16_gemm_reference(double *out, double *magnitude, int ldo, const float *rows, int M, const float *weight,
                         int N, int K);

#endif
