/*
 * test_reference.c - see test_reference.h.
 */
#include "test_reference.h"

#include <stdlib.h>
#include <string.h>

float *test_tensor_f32(const safetensors_file *file, const char *name, int64_t n) {
    const tensor_view *tensor = safetensors_find(file, name);
    if (tensor == NULL || (n >= 0 && tensor->n_elements != n)) return NULL;
    float *out = malloc((size_t)tensor->n_elements * sizeof *out + 1);
    if (out != NULL && tensor_to_f32(tensor, out, NULL) != LOUPE_OK) {
        free(out);
        return NULL;
    }
    return out;
}

int test_input_ids(const safetensors_file *file, int32_t *ids, int max) {
    const tensor_view *tensor = safetensors_find(file, "input_ids");
    if (tensor == NULL || tensor->dtype != TENSOR_DTYPE_I32 || tensor->n_elements > max) return -1;
    for (int64_t t = 0; t < tensor->n_elements; t++) { /* little-endian, whatever the host */
        const uint8_t *bytes = tensor->data + 4 * t;
        ids[t] = (int32_t)((uint32_t)bytes[0] | (uint32_t)bytes[1] << 8 | (uint32_t)bytes[2] << 16 |
                           (uint32_t)bytes[3] << 24);
    }
    return (int)tensor->n_elements;
}
