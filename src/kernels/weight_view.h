/*
 * weight_view.h - a weight matrix as it lies in the checkpoint: its dtype,
 * a pointer to its bytes and its shape. The one way the forward pass, the
 * lens and the products read weights.
 *
 * BF16 and F16 matrices stay in the memory map as stored; a kernel that
 * needs floats converts the panel it is about to use (weight_view_to_f32)
 * into scratch of its own, which stays in cache. The conversions are exact
 * (every BF16 and F16 value is a float), so a product on a converted panel
 * is the same float32 arithmetic on the stored weights as on an F32 copy.
 * F32 matrices are read in place (weight_view_f32).
 *
 * A kernel that can use BF16 directly (the CPU's BF16 dot products) reads
 * dtype and data: rows are `columns` elements of dtype_size bytes, little-
 * endian, at any alignment.
 */
#ifndef LOUPE_KERNELS_WEIGHT_VIEW_H
#define LOUPE_KERNELS_WEIGHT_VIEW_H

#include <stddef.h>
#include <stdint.h>

typedef enum weight_dtype {
    WEIGHT_DTYPE_F32,  /* 4-byte aligned floats in the host's order: usable in place */
    WEIGHT_DTYPE_BF16, /* little-endian bfloat16: the top half of a float's bits */
    WEIGHT_DTYPE_F16,  /* little-endian IEEE binary16 */
} weight_dtype;

typedef struct weight_view {
    weight_dtype dtype;
    const void *data; /* (rows, columns) row-major; not owned (the mmap, or the model's copy) */
    int64_t rows, columns;
} weight_view;

/* Bytes per element of dtype: 4 or 2. */
size_t weight_dtype_size(weight_dtype dtype);

/* The matrix as floats (rows, columns) when it is F32, else NULL: the
 * caller converts panels with weight_view_to_f32. */
const float *weight_view_f32(const weight_view *weight);

/* out (n_rows, n_columns), rows ldo floats apart <- the block of weight at
 * rows row0 .., columns column0 .., as float32, exactly. The block must lie
 * inside the matrix. Runs on the calling thread (F16 with F16C where the
 * level allows, util/cpu_features.h). */
void weight_view_to_f32(const weight_view *weight, int64_t row0, int64_t n_rows, int64_t column0,
                        int64_t n_columns, float *out, int64_t ldo);

#endif
