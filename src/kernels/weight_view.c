/*
 * weight_view.c - reading a weight matrix in its stored dtype (see
 * weight_view.h).
 */
#include "kernels/weight_view.h"

#include <string.h>

#include "io/half_convert.h"

size_t weight_dtype_size(weight_dtype dtype) { return dtype == WEIGHT_DTYPE_F32 ? 4 : 2; }

const float *weight_view_f32(const weight_view *weight) {
    return weight->dtype == WEIGHT_DTYPE_F32 ? (const float *)weight->data : NULL;
}

void weight_view_to_f32(const weight_view *weight, int64_t row0, int64_t n_rows, int64_t column0,
                        int64_t n_columns, float *out, int64_t ldo) {
    const size_t size = weight_dtype_size(weight->dtype);
    for (int64_t r = 0; r < n_rows; r++) {
        const uint8_t *bytes =
            (const uint8_t *)weight->data + ((size_t)(row0 + r) * (size_t)weight->columns + (size_t)column0) * size;
        float *target = out + (size_t)r * (size_t)ldo;
        switch (weight->dtype) {
        case WEIGHT_DTYPE_F32: memcpy(target, bytes, (size_t)n_columns * sizeof(float)); break;
        case WEIGHT_DTYPE_BF16: bfloat16_to_f32(bytes, n_columns, target); break;
        case WEIGHT_DTYPE_F16: half_to_f32_serial(bytes, n_columns, target); break;
        }
    }
}
