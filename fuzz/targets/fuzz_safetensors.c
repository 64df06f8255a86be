/*
 * fuzz_safetensors.c - the safetensors header and tensor table on any bytes:
 * safetensors_parse, then every accepted tensor looked up by name and, when
 * small, converted to float32 (fuzz_convert_small_tensor).
 */
#include "fuzz_target.h"
#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    safetensors_file file;
    loupe_error error;
    loupe_status status = safetensors_parse(data, size, "fuzz.safetensors", &file, &error);
    fuzz_check_error(status, &error);
    if (status != LOUPE_OK) return 0;
    for (size_t i = 0; i < file.n_tensors; i++) {
        const tensor_view *tensor = &file.tensors[i];
        if (safetensors_find(&file, tensor->name) != tensor) fuzz_fail("a tensor not found by its name");
        if (tensor->data < data || tensor->n_bytes > size ||
            (size_t)(tensor->data - data) > size - tensor->n_bytes)
            fuzz_fail("a tensor's bytes outside the file");
        char shape[256];
        tensor_shape_format(tensor->n_dims, tensor->shape, shape, sizeof shape);
        fuzz_convert_small_tensor(tensor);
    }
    safetensors_close(&file);
    return 0;
}
