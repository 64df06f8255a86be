/*
 * config_fields.c - typed reads of config.json fields (see config_fields.h).
 */
#include "io/config_fields.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util/error.h"

/* The item called name, or NULL when absent or JSON null (HF writes null
 * for "use the default"). */
const cJSON *config_present_field(const cJSON *root, const char *name) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, name);
    return cJSON_IsNull(item) ? NULL : item;
}

/* Copies the string field `name` into buffer (capacity bytes, NUL included);
 * fallback when absent. */
loupe_status config_read_string(const cJSON *root, const char *name, const char *fallback,
                                const char *path, char *buffer, size_t capacity, loupe_error *error) {
    const cJSON *item = config_present_field(root, name);
    const char *value = fallback;
    if (item != NULL) {
        if (!cJSON_IsString(item))
            return error_set(error, LOUPE_ERROR_FORMAT, "%s: %s is %s, expected a string", path, name,
                             json_type_name(item));
        value = item->valuestring;
    }
    size_t length = strlen(value);
    if (length >= capacity)
        return error_set(error, LOUPE_ERROR_LIMIT, "%s: %s is %zu bytes long, the limit is %zu", path,
                         name, length, capacity - 1);
    memcpy(buffer, value, length + 1);
    return LOUPE_OK;
}

/* A required size: a positive integer at most max, under `name` or else
 * under `alias` (NULL for none). */
loupe_status config_read_size(const cJSON *root, const char *name, const char *alias, int max,
                              const char *path, int *out, loupe_error *error) {
    const char *found_as = name;
    const cJSON *item = config_present_field(root, name);
    if (item == NULL && alias != NULL) {
        item = config_present_field(root, alias);
        found_as = alias;
    }
    if (item == NULL) {
        if (alias != NULL)
            return error_set(error, LOUPE_ERROR_FORMAT, "%s: %s missing (nor is there %s)", path, name,
                             alias);
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: %s missing", path, name);
    }
    if (!cJSON_IsNumber(item))
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: %s is %s, expected a positive integer", path,
                         found_as, json_type_name(item));
    uint64_t value;
    if (!json_get_natural(item, &value) || value == 0)
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: %s is %g, expected a positive integer", path,
                         found_as, item->valuedouble);
    if (value > (uint64_t)max)
        return error_set(error, LOUPE_ERROR_LIMIT, "%s: %s is %.0f, above the limit of %d", path,
                         found_as, item->valuedouble, max);
    *out = (int)value;
    return LOUPE_OK;
}

/* An optional true/false field; fallback when absent or null. */
loupe_status config_read_bool(const cJSON *root, const char *name, bool fallback, const char *path,
                              bool *out, loupe_error *error) {
    const cJSON *item = config_present_field(root, name);
    if (item == NULL) {
        *out = fallback;
        return LOUPE_OK;
    }
    if (!cJSON_IsBool(item))
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: %s is %s, expected true or false", path, name,
                         json_type_name(item));
    *out = cJSON_IsTrue(item);
    return LOUPE_OK;
}

loupe_status config_read_optional_size(const cJSON *root, const char *name, int fallback, int max,
                                       const char *path, int *out, loupe_error *error) {
    if (config_present_field(root, name) == NULL) {
        *out = fallback;
        return LOUPE_OK;
    }
    return config_read_size(root, name, NULL, max, path, out, error);
}

loupe_status config_read_positive(const cJSON *root, const char *prefix, const char *name,
                                  double fallback, const char *path, double *out, loupe_error *error) {
    const cJSON *item = config_present_field(root, name);
    *out = fallback;
    if (item == NULL) return LOUPE_OK;
    if (!cJSON_IsNumber(item))
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: %s%s is %s, expected a number", path, prefix, name,
                         json_type_name(item));
    if (!(item->valuedouble > 0.0 && isfinite(item->valuedouble)))
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: %s%s is %g, expected a positive number", path,
                         prefix, name, item->valuedouble);
    *out = item->valuedouble;
    return LOUPE_OK;
}

loupe_status config_read_architecture(const cJSON *root, const char *path, const char *fallback, char *buffer,
                                      size_t capacity, loupe_error *error) {
    snprintf(buffer, capacity, "%s", fallback);
    const cJSON *list = config_present_field(root, "architectures");
    if (list == NULL) return LOUPE_OK;
    if (!cJSON_IsArray(list))
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: architectures is %s, expected an array", path,
                         json_type_name(list));
    const cJSON *first = cJSON_GetArrayItem(list, 0);
    if (first == NULL) return LOUPE_OK;
    if (!cJSON_IsString(first))
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: architectures[0] is %s, expected a string", path,
                         json_type_name(first));
    size_t length = strlen(first->valuestring);
    if (length >= capacity)
        return error_set(error, LOUPE_ERROR_LIMIT, "%s: architectures[0] is %zu bytes long, the limit is %zu", path,
                         length, capacity - 1);
    memcpy(buffer, first->valuestring, length + 1);
    return LOUPE_OK;
}
