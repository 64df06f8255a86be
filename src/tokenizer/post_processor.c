/*
 * post_processor.c - see post_processor.h.
 */
#include "tokenizer/post_processor.h"

#include <string.h>

#include "io/json.h"
#include "util/error.h"

/* Appends id to list (count), checked against vocab_size. */
static loupe_status append_id(int32_t *list, size_t *count, const cJSON *item, const char *path,
                              const char *where, int32_t vocab_size, loupe_error *error) {
    uint64_t id = 0;
    if (!json_get_natural(item, &id) || id >= (uint64_t)vocab_size)
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: post_processor %s: an id is not a token id below %d", path,
                         where, (int)vocab_size);
    if (*count >= POST_PROCESSOR_MAX_IDS)
        return error_set(error, LOUPE_ERROR_LIMIT, "%s: post_processor %s: more than %d special tokens", path, where,
                         POST_PROCESSOR_MAX_IDS);
    list[(*count)++] = (int32_t)id;
    return LOUPE_OK;
}

static loupe_status parse_template(const cJSON *json, const char *path, int32_t vocab_size, post_processor *out,
                                   loupe_error *error) {
    const cJSON *single = cJSON_GetObjectItemCaseSensitive(json, "single");
    const cJSON *specials = cJSON_GetObjectItemCaseSensitive(json, "special_tokens");
    if (!cJSON_IsArray(single))
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: post_processor TemplateProcessing: \"single\" is not a list",
                         path);
    int seen_text = 0;
    for (const cJSON *item = single->child; item; item = item->next) {
        const cJSON *special = cJSON_GetObjectItemCaseSensitive(item, "SpecialToken");
        const cJSON *sequence = cJSON_GetObjectItemCaseSensitive(item, "Sequence");
        if (cJSON_IsObject(sequence)) {
            const char *name = json_string_member(sequence, "id");
            if (name == NULL || strcmp(name, "A") != 0 || seen_text)
                return error_set(error, LOUPE_ERROR_FORMAT,
                                 "%s: post_processor TemplateProcessing: \"single\" must hold the sequence A once",
                                 path);
            seen_text = 1;
            continue;
        }
        const char *name = cJSON_IsObject(special) ? json_string_member(special, "id") : NULL;
        if (name == NULL)
            return error_set(error, LOUPE_ERROR_FORMAT,
                             "%s: post_processor TemplateProcessing: an item of \"single\" is neither "
                             "{\"SpecialToken\"} nor {\"Sequence\"}", path);
        const cJSON *entry = cJSON_IsObject(specials) ? cJSON_GetObjectItemCaseSensitive(specials, name) : NULL;
        const cJSON *ids = cJSON_IsObject(entry) ? cJSON_GetObjectItemCaseSensitive(entry, "ids") : NULL;
        if (!cJSON_IsArray(ids))
            return error_set(error, LOUPE_ERROR_FORMAT,
                             "%s: post_processor TemplateProcessing: special token \"%s\" has no \"ids\" under "
                             "\"special_tokens\"", path, name);
        for (const cJSON *id = ids->child; id; id = id->next) {
            loupe_status status = seen_text ? append_id(out->suffix, &out->suffix_count, id, path, "TemplateProcessing", vocab_size, error)
                                            : append_id(out->prefix, &out->prefix_count, id, path, "TemplateProcessing", vocab_size, error);
            if (status != LOUPE_OK) return status;
        }
    }
    if (!seen_text)
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: post_processor TemplateProcessing: \"single\" lacks sequence A",
                         path);
    return LOUPE_OK;
}

/* RobertaProcessing / BertProcessing: "cls": [token, id], "sep": [token, id]. */
static loupe_status parse_cls_sep(const cJSON *json, const char *path, const char *type, int32_t vocab_size,
                                  post_processor *out, loupe_error *error) {
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(json, "cls");
    const cJSON *sep = cJSON_GetObjectItemCaseSensitive(json, "sep");
    if (cJSON_GetArraySize(cls) != 2 || cJSON_GetArraySize(sep) != 2)
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: post_processor %s: \"cls\" and \"sep\" must be [token, id]",
                         path, type);
    loupe_status status = append_id(out->prefix, &out->prefix_count, cJSON_GetArrayItem(cls, 1), path, type,
                                    vocab_size, error);
    if (status != LOUPE_OK) return status;
    return append_id(out->suffix, &out->suffix_count, cJSON_GetArrayItem(sep, 1), path, type, vocab_size, error);
}

static loupe_status parse_one(const cJSON *json, const char *path, int depth, int32_t vocab_size,
                              post_processor *out, loupe_error *error) {
    const char *type = cJSON_IsObject(json) ? json_string_member(json, "type") : NULL;
    if (type == NULL) return error_set(error, LOUPE_ERROR_FORMAT, "%s: post_processor: no \"type\"", path);
    if (strcmp(type, "ByteLevel") == 0) return LOUPE_OK;
    if (strcmp(type, "TemplateProcessing") == 0) return parse_template(json, path, vocab_size, out, error);
    if (strcmp(type, "RobertaProcessing") == 0 || strcmp(type, "BertProcessing") == 0)
        return parse_cls_sep(json, path, type, vocab_size, out, error);
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(json, "processors");
        if (!cJSON_IsArray(list))
            return error_set(error, LOUPE_ERROR_FORMAT, "%s: post_processor Sequence: \"processors\" is not a list", path);
        if (depth > 8) return error_set(error, LOUPE_ERROR_LIMIT, "%s: post_processor: Sequences nested too deep", path);
        for (const cJSON *item = list->child; item; item = item->next) {
            loupe_status status = parse_one(item, path, depth + 1, vocab_size, out, error);
            if (status != LOUPE_OK) return status;
        }
        return LOUPE_OK;
    }
    return error_set(error, LOUPE_ERROR_UNSUPPORTED,
                     "%s: post_processor type \"%s\" is not supported (supported: TemplateProcessing, "
                     "RobertaProcessing, BertProcessing, ByteLevel, Sequence)", path, type);
}

loupe_status post_processor_parse(const cJSON *json, const char *path, int32_t vocab_size,
                                  post_processor *out, loupe_error *error) {
    memset(out, 0, sizeof *out);
    if (json == NULL || cJSON_IsNull(json)) return LOUPE_OK;
    return parse_one(json, path, 0, vocab_size, out, error);
}
