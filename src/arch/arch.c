/*
 * arch.c - the families loupe runs and the common part of reading config.json.
 */
#include "arch/arch.h"

#include <stdio.h>
#include <string.h>

#include "arch/decoder.h"
#include "arch/gpt2.h"
#include "io/config_fields.h"
#include "util/error.h"

static const arch_family *const FAMILIES[] = {
    &GPT2_FAMILY, &LLAMA_FAMILY, &MISTRAL_FAMILY, &QWEN2_FAMILY, &QWEN3_FAMILY, &GEMMA_FAMILY,
    &GPT_NEOX_FAMILY,
};
enum { N_FAMILIES = sizeof FAMILIES / sizeof FAMILIES[0] };

void arch_supported_types(char *buffer, size_t capacity) {
    size_t used = 0;
    buffer[0] = '\0';
    for (int i = 0; i < N_FAMILIES && used < capacity; i++)
        used += (size_t)snprintf(buffer + used, capacity - used, "%s%s", i ? ", " : "", FAMILIES[i]->model_type);
}

loupe_status arch_describe(const cJSON *root, const char *path, model_description *out,
                           loupe_error *error) {
    memset(out, 0, sizeof *out);
    if (!cJSON_IsObject(root))
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: top level is %s, expected an object", path,
                         json_type_name(root));
    const cJSON *type = config_present_field(root, "model_type");
    if (type == NULL) return error_set(error, LOUPE_ERROR_FORMAT, "%s: model_type missing", path);
    if (!cJSON_IsString(type))
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: model_type is %s, expected a string", path,
                         json_type_name(type));
    for (int i = 0; i < N_FAMILIES && out->family == NULL; i++)
        if (strcmp(type->valuestring, FAMILIES[i]->model_type) == 0) out->family = FAMILIES[i];
    if (out->family == NULL) {
        char supported[128];
        arch_supported_types(supported, sizeof supported);
        return error_set(error, LOUPE_ERROR_UNSUPPORTED, "%s: model_type \"%.64s\" is not supported (supported: %s)",
                         path, type->valuestring, supported);
    }
    snprintf(out->model_type, sizeof out->model_type, "%s", out->family->model_type);
    loupe_status status = config_read_architecture(root, path, out->family->architecture, out->architecture,
                                                   sizeof out->architecture, error);
    if (status == LOUPE_OK) {
        const char *dtype_key = config_present_field(root, "dtype") ? "dtype" : "torch_dtype";
        status = config_read_string(root, dtype_key, "", path, out->dtype, sizeof out->dtype, error);
    }
    if (status == LOUPE_OK) status = out->family->read_config(root, path, out, error);
    if (status != LOUPE_OK) {
        memset(out, 0, sizeof *out);
        return status;
    }
    return LOUPE_OK;
}
