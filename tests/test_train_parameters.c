/*
 * test_train_parameters.c - the trainable parameter vector against the
 * checkpoint files read independently: the safetensors header parsed here
 * with cJSON, the bytes decoded here (F32 little-endian, BF16 as the high
 * half of an F32, F16 by the textbook formula), on the F32 and BF16 tiny
 * fixtures and the sharded F16 demo model.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "loupe.h"
#include "train/train_parameters.h"
#include "test_support.h"

static uint64_t read_u64_le(const unsigned char *p) {
    uint64_t value = 0;
    for (int i = 7; i >= 0; i--) value = (value << 8) | p[i];
    return value;
}

static float f32_from_bits(uint32_t bits) {
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

static double half_by_formula(uint16_t bits) {
    int sign = bits >> 15, exponent = (bits >> 10) & 31, mantissa = bits & 1023;
    double magnitude;
    if (exponent == 0)
        magnitude = ldexp(mantissa, -24);
    else if (exponent == 31)
        magnitude = mantissa ? NAN : INFINITY;
    else
        magnitude = ldexp(1.0 + mantissa / 1024.0, exponent - 15);
    return sign ? -magnitude : magnitude;
}

/* Element i of a tensor stored as dtype at data, as a float. */
static float decode(const char *dtype, const unsigned char *data, size_t i) {
    if (strcmp(dtype, "F32") == 0) {
        const unsigned char *p = data + 4 * i;
        return f32_from_bits((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
    }
    if (strcmp(dtype, "BF16") == 0) {
        const unsigned char *p = data + 2 * i;
        return f32_from_bits(((uint32_t)p[0] | (uint32_t)p[1] << 8) << 16);
    }
    if (strcmp(dtype, "F16") == 0) {
        const unsigned char *p = data + 2 * i;
        return (float)half_by_formula((uint16_t)(p[0] | p[1] << 8));
    }
    return NAN;
}

/* Checks every tensor of one safetensors file against params; *checked
 * counts the tensors, *order_index (unless NULL) follows the vector's
 * order, which must be the header's. Returns 0, or -1 if unreadable. */
static int check_file(const char *path, const train_parameters *params, size_t *checked, size_t *order_index) {
    size_t size;
    unsigned char *bytes = (unsigned char *)test_read_file(path, &size);
    if (bytes == NULL || size < 8) return free(bytes), -1;
    uint64_t header_length = read_u64_le(bytes);
    cJSON *header = cJSON_ParseWithLength((const char *)bytes + 8, (size_t)header_length);
    if (header == NULL) return free(bytes), -1;
    const unsigned char *data = bytes + 8 + header_length;
    const cJSON *entry;
    cJSON_ArrayForEach(entry, header) {
        if (strcmp(entry->string, "__metadata__") == 0) continue;
        const char *dtype = cJSON_GetObjectItem(entry, "dtype")->valuestring;
        const cJSON *shape = cJSON_GetObjectItem(entry, "shape");
        const cJSON *offsets = cJSON_GetObjectItem(entry, "data_offsets");
        size_t begin = (size_t)cJSON_GetArrayItem(offsets, 0)->valuedouble;
        const train_tensor *tensor = train_parameters_find(params, entry->string);
        CHECK_MSG(tensor != NULL, "%s missing", entry->string);
        if (tensor == NULL) continue;
        CHECK(strcmp(tensor->name, entry->string) == 0);
        if (order_index) {
            CHECK_MSG(tensor == &params->tensors[*order_index], "%s out of order", entry->string);
            (*order_index)++;
        }
        size_t count = 1;
        CHECK(tensor->n_dims == cJSON_GetArraySize(shape));
        for (int d = 0; d < cJSON_GetArraySize(shape) && d < 4; d++) {
            int64_t extent = (int64_t)cJSON_GetArrayItem(shape, d)->valuedouble;
            CHECK(tensor->shape[d] == extent);
            count *= (size_t)extent;
        }
        CHECK(tensor->count == count);
        CHECK(tensor->decayed == (cJSON_GetArraySize(shape) >= 2));
        size_t mismatches = 0;
        for (size_t i = 0; i < count && tensor->count == count; i++) {
            float expected = decode(dtype, data + begin, i);
            float got = params->values[tensor->offset + i];
            if (!(expected == got || (isnan(expected) && isnan(got)))) mismatches++;
        }
        CHECK_MSG(mismatches == 0, "%s: %zu values differ", entry->string, mismatches);
        (*checked)++;
    }
    cJSON_Delete(header);
    free(bytes);
    return 0;
}

static void check_model(const char *directory, const char *const *files, size_t n_files, bool single) {
    loupe_model *model = NULL;
    loupe_error error;
    if (loupe_model_open(directory, &model, &error) != LOUPE_OK) {
        CHECK_MSG(false, "%s: %s", directory, error.message);
        return;
    }
    train_parameters params;
    loupe_status status = train_parameters_load(model, &params, &error);
    CHECK_MSG(status == LOUPE_OK, "%s", error.message);
    if (status == LOUPE_OK) {
        CHECK(((uintptr_t)params.values & 63) == 0);
        size_t checked = 0, order = 0, total = 0;
        for (size_t f = 0; f < n_files; f++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", directory, files[f]);
            CHECK_MSG(check_file(path, &params, &checked, single ? &order : NULL) == 0, "%s unreadable", path);
        }
        CHECK_MSG(checked == params.n_tensors, "%zu tensors in the files, %zu in the vector", checked,
                  params.n_tensors);
        for (size_t i = 0; i < params.n_tensors; i++) {
            CHECK(params.tensors[i].offset == total);
            total += params.tensors[i].count;
        }
        CHECK(total == params.n_values);
        /* both spellings of a GPT-2 name */
        const train_tensor *with = train_parameters_find(&params, "transformer.wte.weight");
        const train_tensor *without = train_parameters_find(&params, "wte.weight");
        CHECK(with != NULL && with == without);
        CHECK(train_parameters_find(&params, "no.such.tensor") == NULL);
        CHECK(train_parameters_find(&params, "transformer.") == NULL);
        train_parameters_free(&params);
        train_parameters_free(&params); /* a freed vector frees again harmlessly */
    }
    loupe_model_close(model);
}

int main(void) {
    static const char *const single[] = {"model.safetensors"};
    check_model(test_data_path("gpt2-tiny-gelu"), single, 1, true);
    check_model(test_data_path("gpt2-tiny-bf16"), single, 1, true);
    static const char *const shards[] = {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"};
    check_model(test_model_path("gpt2-demo"), shards, 2, false);
    return test_finish("test_train_parameters");
}
