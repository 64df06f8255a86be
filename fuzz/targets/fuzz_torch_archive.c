/*
 * fuzz_torch_archive.c - a PyTorch archive (params.pt) on any bytes:
 * torch_archive_parse (libzip, then the unpickler), then every tensor it
 * accepts converted to float32, which reads each of its bytes (ASan sees a
 * view outside its storage).
 */

#include "fuzz_target.h"
#include "tuned/torch_archive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    torch_archive archive;
    loupe_error error;
    loupe_status status = torch_archive_parse(data, size, "fuzz.pt", &archive, &error);
    fuzz_check_error(status, &error);
    if (status != LOUPE_OK) {
        torch_archive_close(&archive);
        return 0;
    }
    for (size_t i = 0; i < archive.n_tensors; i++) {
        fuzz_convert_small_tensor(&archive.tensors[i]);
    }
    torch_archive_close(&archive);
    return 0;
}
