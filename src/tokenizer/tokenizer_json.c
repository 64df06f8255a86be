/*
 * tokenizer_json.c - reading tokenizer.json (see tokenizer_json.h); the
 * encoding is in tokenizer_json_encode.c.
 */
#include "tokenizer/tokenizer_json.h"

#include <stdlib.h>
#include <string.h>

#include "io/json.h"
#include "tokenizer/byte_unicode.h"
#include "util/error.h"
#include "util/file_map.h"

/* A true/false member, fallback when absent or null; *bad when another type. */
static bool flag_member(const cJSON *object, const char *name, bool fallback, bool *bad) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);
    if (item == NULL || cJSON_IsNull(item)) return fallback;
    if (!cJSON_IsBool(item)) *bad = true;
    return cJSON_IsTrue(item);
}

/* The state of one load. */
typedef struct loader {
    const char *path;
    const cJSON *model;
    const cJSON *vocab_json;   /* model.vocab */
    const cJSON *added_json;   /* added_tokens, or NULL */
    int32_t n_tokens;          /* V */
    const char **model_string; /* (V) the model's string of each id, or NULL */
    const cJSON **added_of_id; /* (V) the added_tokens entry of each id, or NULL */
} loader;

/* ------------------------------------------------------------------------
 * The model's options, vocabulary and added tokens
 * ---------------------------------------------------------------------- */

static loupe_status check_model(loader *load, tokenizer_json *tokenizer, loupe_error *error) {
    const char *path = load->path;
    const cJSON *model = load->model;
    if (!cJSON_IsObject(model))
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: \"model\" is missing or not an object", path);
    const char *type = json_string_member(model, "type");
    if (type != NULL && strcmp(type, "BPE") != 0)
        return error_set(error, LOUPE_ERROR_UNSUPPORTED,
                         "%s: model type \"%s\" is not supported (supported: BPE)", path, type);
    const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    if (dropout != NULL && !cJSON_IsNull(dropout) && !(cJSON_IsNumber(dropout) && dropout->valuedouble == 0))
        return error_set(error, LOUPE_ERROR_UNSUPPORTED, "%s: model.dropout is set: BPE dropout is not supported",
                         path);
    static const char *const affixes[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        const cJSON *affix = cJSON_GetObjectItemCaseSensitive(model, affixes[i]);
        if (affix != NULL && !cJSON_IsNull(affix) && !(cJSON_IsString(affix) && affix->valuestring[0] == '\0'))
            return error_set(error, LOUPE_ERROR_UNSUPPORTED, "%s: model.%s is set: not supported", path, affixes[i]);
    }
    bool bad = false;
    tokenizer->model.fuse_unk = flag_member(model, "fuse_unk", false, &bad);
    tokenizer->model.byte_fallback = flag_member(model, "byte_fallback", false, &bad);
    tokenizer->model.ignore_merges = flag_member(model, "ignore_merges", false, &bad);
    if (bad)
        return error_set(error, LOUPE_ERROR_FORMAT,
                         "%s: model: fuse_unk, byte_fallback and ignore_merges must be true or false", path);
    load->vocab_json = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    if (!cJSON_IsObject(load->vocab_json))
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: model.vocab is missing or not an object", path);
    if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(model, "merges")))
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: model.merges is missing or not a list", path);
    return LOUPE_OK;
}

/* An id member: a whole number below BPE_VOCAB_MAX_TOKENS. */
static loupe_status read_id(const cJSON *item, const char *path, const char *where, const char *name,
                            int32_t *id_out, loupe_error *error) {
    uint64_t id = 0;
    if (!json_get_natural(item, &id))
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: %s \"%s\": the id is not a whole number >= 0", path, where,
                         name);
    if (id >= BPE_VOCAB_MAX_TOKENS)
        return error_set(error, LOUPE_ERROR_LIMIT, "%s: %s \"%s\": id %llu is above the limit of %d", path, where,
                         name, (unsigned long long)id, BPE_VOCAB_MAX_TOKENS - 1);
    *id_out = (int32_t)id;
    return LOUPE_OK;
}

/* Finds V and records, per id, its vocabulary string and added token. */
static loupe_status index_ids(loader *load, loupe_error *error) {
    const char *path = load->path;
    int32_t largest = -1, id = 0;
    for (const cJSON *entry = load->vocab_json->child; entry; entry = entry->next) {
        loupe_status status = read_id(entry, path, "model.vocab", entry->string, &id, error);
        if (status != LOUPE_OK) return status;
        if (entry->string[0] == '\0')
            return error_set(error, LOUPE_ERROR_FORMAT, "%s: model.vocab: an empty token (id %d)", path, (int)id);
        if (id > largest) largest = id;
    }
    if (load->added_json != NULL && !cJSON_IsNull(load->added_json) && !cJSON_IsArray(load->added_json))
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: \"added_tokens\" is not a list", path);
    int index = 0;
    for (const cJSON *entry = cJSON_IsArray(load->added_json) ? load->added_json->child : NULL; entry;
         entry = entry->next, index++) {
        const char *content = json_string_member(entry, "content");
        if (!cJSON_IsObject(entry) || content == NULL)
            return error_set(error, LOUPE_ERROR_FORMAT, "%s: added_tokens[%d]: needs \"id\" and \"content\"", path,
                             index);
        loupe_status status = read_id(cJSON_GetObjectItemCaseSensitive(entry, "id"), path, "added token", content,
                                      &id, error);
        if (status != LOUPE_OK) return status;
        if (id > largest) largest = id;
    }
    if (largest < 0) return error_set(error, LOUPE_ERROR_FORMAT, "%s: the vocabulary is empty", path);
    load->n_tokens = largest + 1;
    load->model_string = calloc((size_t)load->n_tokens, sizeof *load->model_string);
    load->added_of_id = calloc((size_t)load->n_tokens, sizeof *load->added_of_id);
    if (load->model_string == NULL || load->added_of_id == NULL)
        return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", path);
    for (const cJSON *entry = load->vocab_json->child; entry; entry = entry->next) {
        uint64_t value = 0;
        json_get_natural(entry, &value);
        if (load->model_string[value] != NULL)
            return error_set(error, LOUPE_ERROR_FORMAT, "%s: model.vocab: \"%s\" and \"%s\" share id %llu", path,
                             load->model_string[value], entry->string, (unsigned long long)value);
        load->model_string[value] = entry->string;
    }
    for (const cJSON *entry = cJSON_IsArray(load->added_json) ? load->added_json->child : NULL; entry;
         entry = entry->next) {
        uint64_t value = 0;
        json_get_natural(cJSON_GetObjectItemCaseSensitive(entry, "id"), &value);
        load->added_of_id[value] = entry;
    }
    return LOUPE_OK;
}

/* The vocabulary: decoded bytes per id, the model's strings, the byte-level
 * characters' ids. */
static loupe_status build_vocab(loader *load, tokenizer_json *tokenizer, loupe_error *error) {
    const char *path = load->path;
    int32_t n = load->n_tokens;
    bpe_vocab *vocab = &tokenizer->vocab;
    byte_buffer bytes = {0};
    vocab->n_tokens = n;
    vocab->token_offsets = malloc(((size_t)n + 1) * sizeof *vocab->token_offsets);
    tokenizer->token_flags = calloc((size_t)n, 1);
    if (vocab->token_offsets == NULL || tokenizer->token_flags == NULL ||
        string_map_init(&vocab->ids_by_text, (size_t)cJSON_GetArraySize(load->vocab_json)) != 0)
        goto memory;
    for (int32_t id = 0; id < n; id++) {
        vocab->token_offsets[id] = bytes.length;
        const cJSON *added = load->added_of_id[id];
        const char *text = load->model_string[id];
        if (text != NULL) {
            int put = string_map_put(&vocab->ids_by_text, text, strlen(text), id);
            if (put < 0) goto memory;
            if (put == 0) {
                byte_buffer_free(&bytes);
                return error_set(error, LOUPE_ERROR_FORMAT, "%s: model.vocab: duplicate token \"%s\"", path, text);
            }
        }
        if (added != NULL) {
            const char *content = json_string_member(added, "content");
            if (byte_buffer_append(&bytes, content, strlen(content)) != 0) goto memory;
            tokenizer->token_flags[id] |= TOKEN_FLAG_ADDED;
        } else if (text != NULL) {
            int decoded = token_decoder_token_bytes(&tokenizer->decoder, text, strlen(text), &bytes);
            if (decoded < 0) goto memory;
            if (decoded == 1) tokenizer->token_flags[id] |= TOKEN_FLAG_BYTE_FALLBACK;
        }
    }
    vocab->token_offsets[n] = bytes.length;
    vocab->token_bytes = bytes.length ? bytes.bytes : malloc(1);
    if (vocab->token_bytes == NULL) goto memory;
    for (int b = 0; b < 256; b++) {
        char character[BYTE_UNICODE_MAX_UTF8];
        size_t length = byte_unicode_encode_utf8((uint8_t)b, character);
        vocab->byte_ids[b] = tokenizer->pre_tokenizer.byte_level ? bpe_vocab_find(vocab, character, length) : -1;
    }
    return LOUPE_OK;
memory:
    byte_buffer_free(&bytes);
    return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", path);
}

/* ------------------------------------------------------------------------
 * Merges: "left right" strings or ["left", "right"] pairs
 * ---------------------------------------------------------------------- */

static loupe_status build_merges(loader *load, tokenizer_json *tokenizer, loupe_error *error) {
    const char *path = load->path;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(load->model, "merges");
    int count = cJSON_GetArraySize(list);
    if (count > BPE_MERGES_MAX_LINES)
        return error_set(error, LOUPE_ERROR_LIMIT, "%s: model.merges: %d rules, more than the limit of %d", path,
                         count, BPE_MERGES_MAX_LINES);
    if (bpe_merges_init(&tokenizer->merges, (size_t)count) != 0)
        return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", path);
    byte_buffer joined = {0};
    loupe_status status = LOUPE_OK;
    int32_t rank = 0;
    for (const cJSON *rule = list->child; rule && status == LOUPE_OK; rule = rule->next, rank++) {
        const char *left = NULL, *right = NULL;
        size_t left_length = 0, right_length = 0;
        if (cJSON_IsString(rule)) {
            const char *space = strchr(rule->valuestring, ' ');
            left = rule->valuestring;
            left_length = space ? (size_t)(space - left) : 0;
            right = space ? space + 1 : NULL;
            right_length = space ? strlen(right) : 0;
            if (space == NULL || strchr(right, ' ') != NULL) left_length = 0;
        } else if (cJSON_GetArraySize(rule) == 2 && cJSON_IsString(cJSON_GetArrayItem(rule, 0)) &&
                   cJSON_IsString(cJSON_GetArrayItem(rule, 1))) {
            left = cJSON_GetArrayItem(rule, 0)->valuestring;
            right = cJSON_GetArrayItem(rule, 1)->valuestring;
            left_length = strlen(left);
            right_length = strlen(right);
        }
        if (left_length == 0 || right_length == 0) {
            status = error_set(error, LOUPE_ERROR_FORMAT,
                               "%s: model.merges[%d]: expected \"left right\" or [\"left\", \"right\"]", path,
                               (int)rank);
            break;
        }
        joined.length = 0;
        if (byte_buffer_append(&joined, left, left_length) != 0 ||
            byte_buffer_append(&joined, right, right_length) != 0) {
            status = error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", path);
            break;
        }
        int32_t left_id = bpe_vocab_find(&tokenizer->vocab, left, left_length);
        int32_t right_id = bpe_vocab_find(&tokenizer->vocab, right, right_length);
        int32_t merged_id = bpe_vocab_find(&tokenizer->vocab, joined.bytes, joined.length);
        if (left_id < 0 || right_id < 0 || merged_id < 0) {
            status = error_set(error, LOUPE_ERROR_FORMAT,
                               "%s: model.merges[%d]: the %s of \"%.*s\" + \"%.*s\" is not in model.vocab", path,
                               (int)rank, left_id < 0 ? "left part" : right_id < 0 ? "right part" : "merged token",
                               (int)(left_length > 60 ? 60 : left_length), left,
                               (int)(right_length > 60 ? 60 : right_length), right);
            break;
        }
        /* A repeated pair takes its last rank, as the library's map does. */
        bpe_merges_add(&tokenizer->merges, left_id, right_id, rank, merged_id, 1);
    }
    byte_buffer_free(&joined);
    return status;
}

/* ------------------------------------------------------------------------
 * Added tokens
 * ---------------------------------------------------------------------- */

static loupe_status build_added(loader *load, tokenizer_json *tokenizer, loupe_error *error) {
    const char *path = load->path;
    int count = cJSON_IsArray(load->added_json) ? cJSON_GetArraySize(load->added_json) : 0;
    added_token *tokens = calloc((size_t)count + 1, sizeof *tokens);
    byte_buffer *normalized = calloc((size_t)count + 1, sizeof *normalized);
    byte_buffer spare = {0};
    split_regex_scratch scratch = {0};
    loupe_status status = tokens && normalized ? LOUPE_OK : error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", path);
    int index = 0;
    for (const cJSON *entry = count ? load->added_json->child : NULL; entry && status == LOUPE_OK;
         entry = entry->next, index++) {
        bool bad = false;
        added_token *token = &tokens[index];
        uint64_t id = 0;
        json_get_natural(cJSON_GetObjectItemCaseSensitive(entry, "id"), &id);
        token->id = (int32_t)id;
        token->content = json_string_member(entry, "content");
        token->length = strlen(token->content);
        token->special = flag_member(entry, "special", false, &bad);
        token->lstrip = flag_member(entry, "lstrip", false, &bad);
        token->rstrip = flag_member(entry, "rstrip", false, &bad);
        token->single_word = flag_member(entry, "single_word", false, &bad);
        token->normalized = flag_member(entry, "normalized", !token->special, &bad);
        if (bad) {
            status = error_set(error, LOUPE_ERROR_FORMAT, "%s: added_tokens[%d] \"%s\": a flag is not true/false",
                               path, index, token->content);
            break;
        }
        if (token->normalized && tokenizer->normalizer.count > 0) {
            /* Matched on normalized text, so by its normalized content. */
            status = normalizer_apply(&tokenizer->normalizer, &scratch, token->content, token->length,
                                      &normalized[index], &spare, error);
            token->content = normalized[index].bytes ? normalized[index].bytes : "";
            token->length = normalized[index].length;
        }
    }
    if (status == LOUPE_OK) status = added_vocabulary_create(tokens, (size_t)count, &tokenizer->added, error);
    for (int i = 0; i < count && normalized; i++) byte_buffer_free(&normalized[i]);
    free(normalized);
    free(tokens);
    byte_buffer_free(&spare);
    split_regex_scratch_free(&scratch);
    return status;
}

/* ------------------------------------------------------------------------
 * The whole file
 * ---------------------------------------------------------------------- */

static loupe_status load_root(const cJSON *root, const char *path, tokenizer_json *tokenizer, loupe_error *error) {
    if (!cJSON_IsObject(root))
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: expected a JSON object, found %s", path,
                         json_type_name(root));
    loader load = {.path = path,
                   .model = cJSON_GetObjectItemCaseSensitive(root, "model"),
                   .added_json = cJSON_GetObjectItemCaseSensitive(root, "added_tokens")};
    loupe_status status = check_model(&load, tokenizer, error);
    if (status == LOUPE_OK)
        status = pre_tokenizer_parse(cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), path,
                                     &tokenizer->pre_tokenizer, error);
    if (status == LOUPE_OK && tokenizer->pre_tokenizer.byte_level && tokenizer->model.byte_fallback)
        status = error_set(error, LOUPE_ERROR_UNSUPPORTED,
                           "%s: model.byte_fallback with a ByteLevel pre_tokenizer is not supported", path);
    if (status == LOUPE_OK)
        status = token_decoder_parse(cJSON_GetObjectItemCaseSensitive(root, "decoder"), path, &tokenizer->decoder,
                                     error);
    if (status == LOUPE_OK)
        status = normalizer_parse(cJSON_GetObjectItemCaseSensitive(root, "normalizer"), path, &tokenizer->normalizer,
                                  error);
    if (status == LOUPE_OK) status = index_ids(&load, error);
    if (status == LOUPE_OK) status = build_vocab(&load, tokenizer, error);
    if (status == LOUPE_OK) status = build_merges(&load, tokenizer, error);
    if (status == LOUPE_OK) {
        tokenizer->model.vocab = &tokenizer->vocab;
        tokenizer->model.merges = &tokenizer->merges;
        tokenizer->model.unk_id = -1;
        const char *unk = json_string_member(load.model, "unk_token");
        if (unk != NULL) {
            tokenizer->model.unk_id = bpe_vocab_find(&tokenizer->vocab, unk, strlen(unk));
            if (tokenizer->model.unk_id < 0)
                status = error_set(error, LOUPE_ERROR_FORMAT, "%s: model.unk_token \"%s\" is not in model.vocab",
                                   path, unk);
        }
        bpe_model_prepare(&tokenizer->model);
    }
    if (status == LOUPE_OK) status = build_added(&load, tokenizer, error);
    if (status == LOUPE_OK)
        status = post_processor_parse(cJSON_GetObjectItemCaseSensitive(root, "post_processor"), path,
                                      load.n_tokens, &tokenizer->post_processor, error);
    free(load.model_string);
    free(load.added_of_id);
    return status;
}

loupe_status tokenizer_json_parse(const char *text, size_t length, const char *display_name,
                                  tokenizer_json **out, loupe_error *error) {
    *out = NULL;
    tokenizer_json *tokenizer = calloc(1, sizeof *tokenizer);
    if (tokenizer == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", display_name);
    cJSON *root = NULL;
    loupe_status status = json_parse(text, length, display_name, &root, error);
    if (status == LOUPE_OK) status = load_root(root, display_name, tokenizer, error);
    cJSON_Delete(root);
    if (status != LOUPE_OK) {
        tokenizer_json_free(tokenizer);
        return status;
    }
    *out = tokenizer;
    return LOUPE_OK;
}

loupe_status tokenizer_json_load(const char *path, tokenizer_json **out, loupe_error *error) {
    *out = NULL;
    char *text = NULL;
    size_t size = 0;
    loupe_status status = file_read_all(path, TOKENIZER_JSON_MAX_FILE_BYTES, &text, &size, error);
    if (status == LOUPE_OK) status = tokenizer_json_parse(text, size, path, out, error);
    free(text);
    return status;
}

void tokenizer_json_free(tokenizer_json *tokenizer) {
    if (tokenizer == NULL) return;
    bpe_vocab_free(&tokenizer->vocab);
    bpe_merges_free(&tokenizer->merges);
    added_vocabulary_free(tokenizer->added);
    normalizer_free(&tokenizer->normalizer);
    pre_tokenizer_free(&tokenizer->pre_tokenizer);
    free(tokenizer->token_flags);
    free(tokenizer);
}
