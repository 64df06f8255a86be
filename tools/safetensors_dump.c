/*
 * safetensors_dump.c - prints a safetensors file as JSON through loupe's own
 * reader (src/io/safetensors.h), for tests written in Python that check
 * what loupe writes (tests/cli/lens_export.sh).
 *
 *   safetensors_dump FILE.safetensors
 *
 * Prints {"NAME": {"dtype": "F32", "shape": [..], "data": [..]}, ...} in
 * file order: floats with %.9g (which round-trips a float32; NaN and the
 * infinities as null), I32 and I64 as integers. Other dtypes print no data.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "loupe.h"

/* Element i of an integer tensor, read little-endian. */
static long long integer_at(const tensor_view *tensor, int64_t i) {
    size_t size = tensor_dtype_size(tensor->dtype);
    unsigned long long value = 0;
    for (size_t b = 0; b < size; b++) value |= (unsigned long long)tensor->data[(size_t)i * size + b] << (8 * b);
    if (size == 4) return (long long)(int32_t)(uint32_t)value;
    return (long long)value;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE.safetensors\n", argv[0]);
        return 2;
    }
    safetensors_file file;
    loupe_error error;
    if (safetensors_open(argv[1], &file, &error) != LOUPE_OK) {
        fprintf(stderr, "%s\n", error.message);
        return 1;
    }
    int status = 0;
    fputc('{', stdout);
    for (size_t t = 0; t < file.n_tensors && status == 0; t++) {
        const tensor_view *tensor = &file.tensors[t];
        char shape[256];
        tensor_shape_format(tensor->n_dims, tensor->shape, shape, sizeof shape);
        printf("%s\n\"%s\": {\"dtype\": \"%s\", \"shape\": %s, \"data\": [", t ? "," : "", tensor->name,
               tensor_dtype_name(tensor->dtype), shape);
        bool is_integer = tensor->dtype == TENSOR_DTYPE_I32 || tensor->dtype == TENSOR_DTYPE_I64;
        float *values = NULL;
        if (!is_integer) {
            values = malloc((size_t)(tensor->n_elements ? tensor->n_elements : 1) * sizeof *values);
            if (values == NULL || tensor_to_f32(tensor, values, &error) != LOUPE_OK) {
                fprintf(stderr, "%s: %s\n", tensor->name, values ? error.message : "out of memory");
                status = 1;
            }
        }
        for (int64_t i = 0; i < tensor->n_elements && status == 0; i++) {
            if (i > 0) fputs(", ", stdout);
            if (is_integer) printf("%lld", integer_at(tensor, i));
            else if (isfinite(values[i])) printf("%.9g", values[i]);
            else fputs("null", stdout);
        }
        free(values);
        fputs("]}", stdout);
    }
    fputs("}\n", stdout);
    safetensors_close(&file);
    return status;
}
