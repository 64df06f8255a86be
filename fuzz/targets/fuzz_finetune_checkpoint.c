/*
 * fuzz_finetune_checkpoint.c - the checkpoints that `loupe finetune
 * --resume` reads (src/train/finetune_checkpoint.h), on any bytes:
 * finetune_checkpoint_parse against a fixed run of two tensors either
 * refuses them with a one-line error, writing none of its outputs, or
 * accepts a file that fits the run, with a step within it and a data
 * position >= 0. The seeds
 * (fuzz/make_seeds.py) are checkpoints of this run and near misses.
 */
#include <string.h>

#include "fuzz_target.h"
#include "train/finetune_checkpoint.h"

/* The run the seeds are written for; fuzz/make_seeds.py spells the same. */
static train_tensor tensors[2] = {
    {.name = "wte.weight", .n_dims = 2, .shape = {4, 3}, .offset = 0, .count = 12, .decayed = true},
    {.name = "ln_f.bias", .n_dims = 1, .shape = {3}, .offset = 12, .count = 3}};
static const char model_json[] = "{\"model_type\":\"gpt2\",\"n_layer\":1,\"weights_hash\":\"00000000deadbeef\"}";
static const char settings_json[] = "{\"lr\":0.0003,\"lens_rows\":\"0\",\"steps\":5,\"seed\":\"42\"}";
enum { VALUES = 15, MAX_STEP = 5 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const train_parameters layout = {.tensors = tensors, .n_tensors = 2, .n_values = VALUES};
    const finetune_checkpoint_run run = {&layout, model_json, settings_json, MAX_STEP};
    /* a NaN pattern marks what the reader has not written */
    float values[VALUES], exp_avg[VALUES], exp_avg_sq[VALUES];
    memset(values, 0xff, sizeof values), memset(exp_avg, 0xff, sizeof exp_avg);
    memset(exp_avg_sq, 0xff, sizeof exp_avg_sq);
    int step = -1;
    int64_t position = -1;
    loupe_error error;
    loupe_status status = finetune_checkpoint_parse(data, size, "fuzz.safetensors", &run, values, exp_avg, exp_avg_sq,
                                                    &step, &position, &error);
    fuzz_check_error(status, &error);
    unsigned char untouched[sizeof values];
    memset(untouched, 0xff, sizeof untouched);
    const bool written = memcmp(values, untouched, sizeof values) != 0 || memcmp(exp_avg, untouched, sizeof values) != 0 ||
                         memcmp(exp_avg_sq, untouched, sizeof values) != 0;
    if (status != LOUPE_OK) {
        if (written || step != -1 || position != -1) fuzz_fail("a refused checkpoint wrote an output");
        return 0;
    }
    if (step < 0 || step > MAX_STEP || position < 0) fuzz_fail("an accepted checkpoint out of bounds");
    return 0;
}
