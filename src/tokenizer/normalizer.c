/*
 * normalizer.c - see normalizer.h.
 */
#include "tokenizer/normalizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "io/json.h"
#include "util/error.h"

/* ------------------------------------------------------------------------
 * Reading
 * ---------------------------------------------------------------------- */

static loupe_status add_step(normalizer *out, normalizer_step step, const char *path, loupe_error *error) {
    normalizer_step *grown = realloc(out->steps, (out->count + 1) * sizeof *grown);
    if (grown == NULL) {
        free(step.content);
        split_regex_free(&step.pattern);
        return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", path);
    }
    out->steps = grown;
    out->steps[out->count++] = step;
    return LOUPE_OK;
}

static loupe_status parse_one(const cJSON *json, const char *path, int depth, normalizer *out,
                              loupe_error *error) {
    if (!cJSON_IsObject(json))
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: normalizer: expected an object, found %s", path,
                         json_type_name(json));
    const char *type = json_string_member(json, "type");
    if (type == NULL) return error_set(error, LOUPE_ERROR_FORMAT, "%s: normalizer: no \"type\"", path);
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(json, "normalizers");
        if (!cJSON_IsArray(list))
            return error_set(error, LOUPE_ERROR_FORMAT, "%s: normalizer Sequence: \"normalizers\" is not a list",
                             path);
        if (depth > 8)
            return error_set(error, LOUPE_ERROR_LIMIT, "%s: normalizer: Sequences nested too deep", path);
        for (const cJSON *item = list->child; item; item = item->next) {
            loupe_status status = parse_one(item, path, depth + 1, out, error);
            if (status != LOUPE_OK) return status;
        }
        return LOUPE_OK;
    }
    normalizer_step step = {0};
    if (strcmp(type, "Prepend") == 0) {
        const char *prepend = json_string_member(json, "prepend");
        if (prepend == NULL)
            return error_set(error, LOUPE_ERROR_FORMAT, "%s: normalizer Prepend: no \"prepend\" string", path);
        step.kind = NORMALIZER_PREPEND;
        step.content_length = strlen(prepend);
        step.content = strdup(prepend);
        if (step.content == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", path);
        return add_step(out, step, path, error);
    }
    if (strcmp(type, "Replace") == 0) {
        const cJSON *pattern = cJSON_GetObjectItemCaseSensitive(json, "pattern");
        const char *content = json_string_member(json, "content");
        const char *literal = cJSON_IsObject(pattern) ? json_string_member(pattern, "String") : NULL;
        const char *regex = cJSON_IsObject(pattern) ? json_string_member(pattern, "Regex") : NULL;
        if (content == NULL || (literal == NULL && regex == NULL))
            return error_set(error, LOUPE_ERROR_FORMAT,
                             "%s: normalizer Replace: needs \"pattern\" {\"String\" or \"Regex\"} and \"content\"",
                             path);
        const char *source = literal ? literal : regex;
        if (source[0] == '\0')
            return error_set(error, LOUPE_ERROR_FORMAT, "%s: normalizer Replace: empty pattern", path);
        step.kind = NORMALIZER_REPLACE;
        char where[256];
        snprintf(where, sizeof where, "%s: normalizer Replace", path);
        loupe_status status = split_regex_compile(source, strlen(source), literal != NULL, where, &step.pattern, error);
        if (status != LOUPE_OK) return status;
        step.content_length = strlen(content);
        step.content = strdup(content);
        if (step.content == NULL) {
            split_regex_free(&step.pattern);
            return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", path);
        }
        return add_step(out, step, path, error);
    }
    static const struct { const char *name; int options; } forms[] = {
        {"NFC", UTF8PROC_STABLE | UTF8PROC_COMPOSE},
        {"NFD", UTF8PROC_STABLE | UTF8PROC_DECOMPOSE},
        {"NFKC", UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT},
        {"NFKD", UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT},
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        if (strcmp(type, forms[i].name) == 0) {
            step.kind = NORMALIZER_UNICODE;
            step.unicode_options = forms[i].options;
            return add_step(out, step, path, error);
        }
    }
    return error_set(error, LOUPE_ERROR_UNSUPPORTED,
                     "%s: normalizer type \"%s\" is not supported (supported: Sequence, Prepend, Replace, "
                     "NFC, NFD, NFKC, NFKD)", path, type);
}

loupe_status normalizer_parse(const cJSON *json, const char *path, normalizer *out, loupe_error *error) {
    *out = (normalizer){0};
    if (json == NULL || cJSON_IsNull(json)) return LOUPE_OK;
    loupe_status status = parse_one(json, path, 0, out, error);
    if (status != LOUPE_OK) normalizer_free(out);
    return status;
}

void normalizer_free(normalizer *chain) {
    if (chain == NULL) return;
    for (size_t i = 0; i < chain->count; i++) {
        free(chain->steps[i].content);
        split_regex_free(&chain->steps[i].pattern);
    }
    free(chain->steps);
    *chain = (normalizer){0};
}

/* ------------------------------------------------------------------------
 * Applying
 * ---------------------------------------------------------------------- */

static loupe_status out_of_memory(loupe_error *error) {
    return error_set(error, LOUPE_ERROR_MEMORY, "tokenizer: out of memory while normalizing");
}

/* Appends the Unicode normalization (utf8proc options) of text (length
 * bytes) to out. Every ASCII character is its own normal form in all four
 * forms, is a starter, and never combines with the character before it, so
 * the text is cut before each ASCII character that an ASCII character
 * follows: runs of ASCII are copied, and only the stretches around the
 * other characters (with the ASCII character before them, which may take a
 * combining mark) go through utf8proc. */
static loupe_status normalize_unicode(int options, const char *text, size_t length, byte_buffer *out,
                                      loupe_error *error) {
    const uint8_t *bytes = (const uint8_t *)text;
    size_t at = 0;
    while (at < length) {
        size_t other = at;
        while (other < length && bytes[other] < 0x80) other++;
        if (other == length) return byte_buffer_append(out, text + at, length - at) ? out_of_memory(error) : LOUPE_OK;
        size_t start = other > at ? other - 1 : other;
        if (byte_buffer_append(out, text + at, start - at) != 0) return out_of_memory(error);
        size_t end = other;
        while (end < length && !(bytes[end] < 0x80 && (end + 1 == length || bytes[end + 1] < 0x80))) end++;
        utf8proc_uint8_t *normalized = NULL;
        utf8proc_ssize_t produced = utf8proc_map(bytes + start, (utf8proc_ssize_t)(end - start), &normalized,
                                                 (utf8proc_option_t)options);
        if (produced < 0) {
            free(normalized);
            return produced == UTF8PROC_ERROR_NOMEM ? out_of_memory(error)
                                                    : error_set(error, LOUPE_ERROR_FORMAT,
                                                                "tokenizer: Unicode normalization failed: %s",
                                                                utf8proc_errmsg(produced));
        }
        int failed = byte_buffer_append(out, normalized, (size_t)produced);
        free(normalized);
        if (failed) return out_of_memory(error);
        at = end;
    }
    return LOUPE_OK;
}

/* One step from text (length bytes) into out (emptied first). */
static loupe_status apply_step(const normalizer_step *step, split_regex_scratch *scratch,
                               const char *text, size_t length, byte_buffer *out, loupe_error *error) {
    out->length = 0;
    switch (step->kind) {
    case NORMALIZER_PREPEND:
        if (length > 0 && byte_buffer_append(out, step->content, step->content_length) != 0)
            return out_of_memory(error);
        if (byte_buffer_append(out, text, length) != 0) return out_of_memory(error);
        return LOUPE_OK;
    case NORMALIZER_REPLACE: {
        size_t at = 0, start = 0, end = 0;
        for (;;) {
            int found = 0;
            loupe_status status =
                split_regex_find(&step->pattern, scratch, text, length, at, &found, &start, &end, error);
            if (status != LOUPE_OK) return status;
            if (!found) break;
            if (byte_buffer_append(out, text + at, start - at) != 0 ||
                byte_buffer_append(out, step->content, step->content_length) != 0)
                return out_of_memory(error);
            at = end;
        }
        if (byte_buffer_append(out, text + at, length - at) != 0) return out_of_memory(error);
        return LOUPE_OK;
    }
    case NORMALIZER_UNICODE:
        return normalize_unicode(step->unicode_options, text, length, out, error);
    }
    return LOUPE_OK;
}

loupe_status normalizer_apply(const normalizer *chain, split_regex_scratch *scratch,
                              const char *text, size_t length, byte_buffer *out, byte_buffer *spare,
                              loupe_error *error) {
    out->length = 0;
    if (chain->count == 0) return byte_buffer_append(out, text, length) ? out_of_memory(error) : LOUPE_OK;
    /* Each step reads the previous one's result: the two buffers alternate,
     * and the last step writes into out. */
    byte_buffer *buffers[2] = {chain->count % 2 ? out : spare, chain->count % 2 ? spare : out};
    const char *input = text;
    size_t input_length = length;
    for (size_t i = 0; i < chain->count; i++) {
        byte_buffer *target = buffers[i % 2];
        loupe_status status = apply_step(&chain->steps[i], scratch, input, input_length, target, error);
        if (status != LOUPE_OK) return status;
        input = target->bytes;
        input_length = target->length;
    }
    return LOUPE_OK;
}
