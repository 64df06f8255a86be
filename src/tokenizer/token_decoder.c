/*
 * token_decoder.c - see token_decoder.h.
 */
#include "tokenizer/token_decoder.h"

#include <string.h>

#include <utf8proc.h>

#include "io/json.h"
#include "tokenizer/byte_unicode.h"
#include "util/error.h"

static loupe_status add_replace(token_decoder *out, const char *from, const char *to, const char *path,
                                loupe_error *error) {
    if (out->replace_count == TOKEN_DECODER_MAX_REPLACES)
        return error_set(error, LOUPE_ERROR_LIMIT, "%s: decoder: more than %d Replace steps", path,
                         TOKEN_DECODER_MAX_REPLACES);
    if (from[0] == '\0' || strlen(from) >= sizeof out->replaces[0].from || strlen(to) >= sizeof out->replaces[0].to)
        return error_set(error, LOUPE_ERROR_UNSUPPORTED,
                         "%s: decoder Replace: only a pattern and content of 1 to 15 bytes are supported", path);
    strcpy(out->replaces[out->replace_count].from, from);
    strcpy(out->replaces[out->replace_count].to, to);
    out->replace_count++;
    return LOUPE_OK;
}

static loupe_status parse_one(const cJSON *json, const char *path, int depth, token_decoder *out,
                              loupe_error *error) {
    const char *type = cJSON_IsObject(json) ? json_string_member(json, "type") : NULL;
    if (type == NULL) return error_set(error, LOUPE_ERROR_FORMAT, "%s: decoder: no \"type\"", path);
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(json, "decoders");
        if (!cJSON_IsArray(list))
            return error_set(error, LOUPE_ERROR_FORMAT, "%s: decoder Sequence: \"decoders\" is not a list", path);
        if (depth > 8) return error_set(error, LOUPE_ERROR_LIMIT, "%s: decoder: Sequences nested too deep", path);
        for (const cJSON *item = list->child; item; item = item->next) {
            loupe_status status = parse_one(item, path, depth + 1, out, error);
            if (status != LOUPE_OK) return status;
        }
        return LOUPE_OK;
    }
    if (strcmp(type, "ByteLevel") == 0) {
        out->byte_level = true;
        return LOUPE_OK;
    }
    if (strcmp(type, "ByteFallback") == 0) {
        out->byte_fallback = true;
        return LOUPE_OK;
    }
    if (strcmp(type, "Fuse") == 0) return LOUPE_OK;
    if (strcmp(type, "Replace") == 0) {
        const cJSON *pattern = cJSON_GetObjectItemCaseSensitive(json, "pattern");
        const char *from = cJSON_IsObject(pattern) ? json_string_member(pattern, "String") : NULL;
        const char *to = json_string_member(json, "content");
        if (from == NULL || to == NULL)
            return error_set(error, LOUPE_ERROR_UNSUPPORTED,
                             "%s: decoder Replace: only {\"String\": ...} patterns with a \"content\" are supported",
                             path);
        return add_replace(out, from, to, path, error);
    }
    if (strcmp(type, "Strip") == 0) {
        const char *content = json_string_member(json, "content");
        uint64_t start = 0, stop = 0;
        if (content == NULL || strcmp(content, " ") != 0 ||
            !json_get_natural(cJSON_GetObjectItemCaseSensitive(json, "start"), &start) ||
            !json_get_natural(cJSON_GetObjectItemCaseSensitive(json, "stop"), &stop) || stop != 0 || start > 64)
            return error_set(error, LOUPE_ERROR_UNSUPPORTED,
                             "%s: decoder Strip: only stripping up to 64 leading spaces is supported", path);
        out->strip_leading_spaces += (size_t)start;
        return LOUPE_OK;
    }
    if (strcmp(type, "Metaspace") == 0) {
        const char *replacement = json_string_member(json, "replacement");
        const char *scheme = json_string_member(json, "prepend_scheme");
        const cJSON *add_prefix_space = cJSON_GetObjectItemCaseSensitive(json, "add_prefix_space");
        loupe_status status = add_replace(out, replacement ? replacement : "\xE2\x96\x81", " ", path, error);
        if (status != LOUPE_OK) return status;
        int prepends = scheme ? strcmp(scheme, "never") != 0 : !cJSON_IsFalse(add_prefix_space);
        if (prepends) out->strip_leading_spaces += 1;
        return LOUPE_OK;
    }
    return error_set(error, LOUPE_ERROR_UNSUPPORTED,
                     "%s: decoder type \"%s\" is not supported (supported: ByteLevel, Replace, ByteFallback, Fuse, "
                     "Strip, Metaspace, Sequence)", path, type);
}

loupe_status token_decoder_parse(const cJSON *json, const char *path, token_decoder *out, loupe_error *error) {
    memset(out, 0, sizeof *out);
    if (json == NULL || cJSON_IsNull(json)) return LOUPE_OK;
    return parse_one(json, path, 0, out, error);
}

static int hex_digit(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int token_decoder_token_bytes(const token_decoder *decoder, const char *text, size_t length, byte_buffer *out) {
    if (decoder->byte_fallback && length == 6 && memcmp(text, "<0x", 3) == 0 && text[5] == '>' &&
        hex_digit(text[3]) >= 0 && hex_digit(text[4]) >= 0) {
        char byte = (char)(hex_digit(text[3]) * 16 + hex_digit(text[4]));
        return byte_buffer_append(out, &byte, 1) != 0 ? -1 : 1;
    }
    if (decoder->byte_level) {
        for (size_t at = 0; at < length;) {
            utf8proc_int32_t codepoint = -1;
            utf8proc_ssize_t used = utf8proc_iterate((const utf8proc_uint8_t *)text + at,
                                                     (utf8proc_ssize_t)(length - at), &codepoint);
            if (used <= 0) used = 1;
            int byte = codepoint >= 0 ? byte_unicode_to_byte(codepoint) : -1;
            char single = (char)byte;
            if (byte >= 0 ? byte_buffer_append(out, &single, 1) : byte_buffer_append(out, text + at, (size_t)used))
                return -1;
            at += (size_t)used;
        }
        return 0;
    }
    for (size_t at = 0; at < length;) {
        size_t r = 0;
        for (; r < decoder->replace_count; r++) {
            size_t from_length = strlen(decoder->replaces[r].from);
            if (from_length <= length - at && memcmp(text + at, decoder->replaces[r].from, from_length) == 0) {
                if (byte_buffer_append(out, decoder->replaces[r].to, strlen(decoder->replaces[r].to)) != 0) return -1;
                at += from_length;
                break;
            }
        }
        if (r < decoder->replace_count) continue;
        if (byte_buffer_append(out, text + at, 1) != 0) return -1;
        at++;
    }
    return 0;
}
