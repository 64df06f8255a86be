/*
 * fuzz_torch_pickle.c - the restricted unpickler on any bytes:
 * torch_pickle_read, then every state dict entry it accepts checked for
 * what its contract promises (names and keys NUL-terminated strings,
 * dimensions within TENSOR_MAX_DIMS, a storage of a float dtype).
 */
#include <string.h>

#include "fuzz_target.h"
#include "tuned/torch_pickle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    torch_pickle_tensor *tensors = NULL;
    size_t n = 0;
    loupe_error error;
    loupe_status status = torch_pickle_read(data, size, "fuzz.pkl", &tensors, &n, &error);
    fuzz_check_error(status, &error);
    if (status != LOUPE_OK) return 0;
    for (size_t i = 0; i < n; i++) {
        const torch_pickle_tensor *tensor = &tensors[i];
        if (strlen(tensor->name) > size || strlen(tensor->storage_key) == 0) fuzz_fail("a bad name or key");
        if (tensor->n_dims < 0 || tensor->n_dims > TENSOR_MAX_DIMS || tensor->offset < 0 || tensor->storage_numel < 0)
            fuzz_fail("a tensor outside the contract");
        if (tensor->dtype != TENSOR_DTYPE_F32 && tensor->dtype != TENSOR_DTYPE_F16 && tensor->dtype != TENSOR_DTYPE_BF16)
            fuzz_fail("a storage of a dtype not allowed");
    }
    torch_pickle_free(tensors, n);
    return 0;
}
