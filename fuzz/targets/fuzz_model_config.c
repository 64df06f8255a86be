/*
 * fuzz_model_config.c - config.json on any bytes through the architecture
 * layer (arch_describe: every family's reader), and every description it
 * accepts within the limits the forward pass relies on.
 */
#include "arch/arch.h"
#include "fuzz_target.h"
#include "io/hf_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    loupe_error error;
    cJSON *root = NULL;
    loupe_status status = json_parse((const char *)data, size, "config.json", &root, &error);
    fuzz_check_error(status, &error);
    if (status != LOUPE_OK) return 0;
    model_description d;
    status = arch_describe(root, "config.json", &d, &error);
    cJSON_Delete(root);
    fuzz_check_error(status, &error);
    if (status != LOUPE_OK) return 0;
    if (d.family == NULL) fuzz_fail("no family");
    if (d.n_layer < 1 || d.n_layer > HF_CONFIG_MAX_LAYERS) fuzz_fail("layers outside the limit");
    if (d.n_embd < 1 || d.n_embd > HF_CONFIG_MAX_WIDTH) fuzz_fail("width outside the limit");
    if (d.n_head < 1 || d.n_kv_head < 1 || d.n_head % d.n_kv_head != 0) fuzz_fail("heads do not group");
    if (d.head_dim < 1 || (long long)d.head_dim * d.n_head > HF_CONFIG_MAX_WIDTH) fuzz_fail("head width");
    if (d.n_inner < 1 || d.n_inner > HF_CONFIG_MAX_INNER) fuzz_fail("inner width outside the limit");
    if (d.n_vocab < 1 || d.n_vocab > HF_CONFIG_MAX_VOCAB) fuzz_fail("vocabulary outside the limit");
    if (d.n_ctx < 1 || d.n_ctx > HF_CONFIG_MAX_CONTEXT) fuzz_fail("context outside the limit");
    if (!(d.norm_eps > 0.0)) fuzz_fail("epsilon not positive");
    if (d.rotary && (d.rope.rotary_dim < 2 || d.rope.rotary_dim % 2 != 0 || d.rope.rotary_dim > d.head_dim))
        fuzz_fail("rotary width");
    if (d.sliding_window < 0) fuzz_fail("negative window");
    return 0;
}
