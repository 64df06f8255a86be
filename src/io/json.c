/*
 * json.c - see json.h.
 */
#include "io/json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/file_map.h"

/* The four whitespace characters JSON allows between tokens. */
static int is_json_whitespace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* An upper bound on the values cJSON builds from text (length bytes): every
 * value but the first follows a ':', '[' or ',' outside a string. */
static size_t json_value_bound(const char *text, size_t length) {
    size_t bound = 1;
    int in_string = 0;
    for (size_t i = 0; i < length; i++) {
        char c = text[i];
        if (in_string) {
            if (c == '\\') i++;
            else if (c == '"') in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == ':' || c == '[' || c == ',') {
            bound++;
        }
    }
    return bound;
}

loupe_status json_parse(const char *text, size_t length, const char *display_name,
                        cJSON **root_out, loupe_error *error) {
    *root_out = NULL;
    /* cJSON spends about 80 bytes on each value, some 40 times the text of
     * "[0,0,0,...]": bound the count before it allocates anything. */
    size_t n_values = length > 0 ? json_value_bound(text, length) : 0;
    if (n_values > JSON_MAX_VALUES)
        return error_set(error, LOUPE_ERROR_LIMIT, "%s: JSON with %zu values, more than the limit of %d",
                         display_name, n_values, JSON_MAX_VALUES);
    /* A NUL-terminated private copy: cJSON then cannot read past the text
     * whatever its length handling does, and the caller's bytes (often an
     * mmap) need no terminator. */
    if (length == SIZE_MAX)
        return error_set(error, LOUPE_ERROR_LIMIT, "%s: JSON text too large", display_name);
    char *copy = malloc(length + 1);
    if (copy == NULL)
        return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory for %zu bytes of JSON",
                         display_name, length);
    if (length > 0) memcpy(copy, text, length);
    copy[length] = '\0';

    const char *parse_end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(copy, length, &parse_end, 0);
    size_t stop = parse_end ? (size_t)(parse_end - copy) : 0;
    if (root == NULL) {
        free(copy);
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: invalid JSON at byte offset %zu",
                         display_name, stop);
    }
    while (stop < length && is_json_whitespace(copy[stop])) stop++;
    free(copy);
    if (stop != length) {
        cJSON_Delete(root);
        return error_set(error, LOUPE_ERROR_FORMAT,
                         "%s: invalid JSON at byte offset %zu: unexpected text after the value",
                         display_name, stop);
    }
    *root_out = root;
    return LOUPE_OK;
}

int json_get_natural(const cJSON *item, uint64_t *value_out) {
    if (!cJSON_IsNumber(item)) return 0;
    double value = item->valuedouble;
    if (!(value >= 0.0 && value <= JSON_MAX_EXACT_INTEGER)) return 0; /* NaN fails too */
    if (floor(value) != value) return 0;
    *value_out = (uint64_t)value;
    return 1;
}

const char *json_string_member(const cJSON *object, const char *name) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

const char *json_type_name(const cJSON *item) {
    if (item == NULL) return "nothing";
    if (cJSON_IsNull(item)) return "null";
    if (cJSON_IsBool(item)) return "a boolean";
    if (cJSON_IsNumber(item)) return "a number";
    if (cJSON_IsString(item)) return "a string";
    if (cJSON_IsArray(item)) return "an array";
    if (cJSON_IsObject(item)) return "an object";
    return "an invalid value";
}

loupe_status json_parse_file(const char *path, size_t max_bytes, cJSON **root_out, loupe_error *error) {
    *root_out = NULL;
    char *text = NULL;
    size_t length = 0;
    loupe_status status = file_read_all(path, max_bytes, &text, &length, error);
    if (status != LOUPE_OK) return status;
    status = json_parse(text, length, path, root_out, error);
    free(text);
    return status;
}
