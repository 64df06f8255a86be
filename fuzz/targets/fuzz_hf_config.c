/*
 * fuzz_hf_config.c - config.json on any bytes: hf_config_parse, and every
 * size it accepts within its limit.
 */
#include "fuzz_target.h"
#include "io/hf_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hf_config config;
    loupe_error error;
    loupe_status status = hf_config_parse((const char *)data, size, "config.json", &config, &error);
    fuzz_check_error(status, &error);
    if (status != LOUPE_OK) return 0;
    if (config.n_layer < 1 || config.n_layer > HF_CONFIG_MAX_LAYERS) fuzz_fail("n_layer outside its limit");
    if (config.n_embd < 1 || config.n_embd > HF_CONFIG_MAX_WIDTH) fuzz_fail("n_embd outside its limit");
    if (config.n_head < 1 || config.n_head > HF_CONFIG_MAX_HEADS) fuzz_fail("n_head outside its limit");
    if (config.n_vocab < 1 || config.n_vocab > HF_CONFIG_MAX_VOCAB) fuzz_fail("vocab_size outside its limit");
    if (config.n_ctx < 1 || config.n_ctx > HF_CONFIG_MAX_CONTEXT) fuzz_fail("n_positions outside its limit");
    if (config.n_inner < 1 || config.n_inner > HF_CONFIG_MAX_INNER) fuzz_fail("n_inner outside its limit");
    if (config.n_embd % config.n_head != 0) fuzz_fail("n_embd not divisible by n_head");
    if (!(config.layer_norm_epsilon > 0.0)) fuzz_fail("layer_norm_epsilon not positive");
    return 0;
}
