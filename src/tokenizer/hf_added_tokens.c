/*
 * hf_added_tokens.c - reads the added and special tokens of a GPT-2
 * tokenizer folder (see hf_added_tokens.h).
 */
#include "tokenizer/hf_added_tokens.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/json.h"
#include "tokenizer/byte_unicode.h"
#include "util/error.h"
#include "util/file_map.h"
#include "util/string_map.h"

/* GPT2TokenizerFast's default for bos_token, eos_token and unk_token. */
static const char gpt2_default_special[] = "<|endoftext|>";

/* The special-token attributes of a transformers tokenizer, one token each. */
static const char *const special_attributes[] = {"bos_token", "eos_token", "unk_token", "sep_token",
                                                 "pad_token", "cls_token", "mask_token"};

/* The tokens gathered so far; contents point into the parsed JSON. */
typedef struct token_list {
    added_token *tokens; /* (count), room for capacity */
    size_t count, capacity;
    string_map index_by_content;
    int32_t next_new_id; /* the id a token absent from vocab.json gets */
} token_list;

static loupe_status list_add(token_list *list, const added_token *token, loupe_error *error) {
    if (list->count == list->capacity) {
        size_t wanted = list->capacity ? list->capacity * 2 : 16;
        added_token *grown = realloc(list->tokens, wanted * sizeof *grown);
        if (grown == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "added tokens: out of memory");
        list->tokens = grown;
        list->capacity = wanted;
    }
    if (string_map_put(&list->index_by_content, token->content, token->length, (int64_t)list->count) < 0)
        return error_set(error, LOUPE_ERROR_MEMORY, "added tokens: out of memory");
    list->tokens[list->count++] = *token;
    if (token->id >= list->next_new_id) list->next_new_id = token->id == INT32_MAX ? INT32_MAX : token->id + 1;
    return LOUPE_OK;
}

/* The index of the token with this content, or -1. */
static long list_find(const token_list *list, const char *content, size_t length) {
    int64_t index = 0;
    return string_map_get(&list->index_by_content, content, length, &index) ? (long)index : -1;
}

/* The vocab.json id of the raw bytes content, or -1. */
static int32_t vocab_id_of(const bpe_vocab *vocab, const char *content, size_t length) {
    if (length == 0 || length > ADDED_TOKENS_MAX_CONTENT_BYTES) return -1;
    char spelling[ADDED_TOKENS_MAX_CONTENT_BYTES * BYTE_UNICODE_MAX_UTF8];
    size_t written = 0;
    for (size_t i = 0; i < length; i++) written += byte_unicode_encode_utf8((uint8_t)content[i], spelling + written);
    return bpe_vocab_find(vocab, spelling, written);
}

/* ------------------------------------------------------------------------
 * One token description: a string, or an object with content and flags
 * ---------------------------------------------------------------------- */

/* Reads the boolean `key` of object into *flag when present. */
static loupe_status read_flag(const cJSON *object, const char *key, bool *flag, const char *file,
                              const char *entry, loupe_error *error) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
    if (item == NULL) return LOUPE_OK;
    if (!cJSON_IsBool(item))
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: %s.%s: expected true or false, got %s", file, entry,
                         key, json_type_name(item));
    *flag = cJSON_IsTrue(item);
    return LOUPE_OK;
}

/* Fills *token (id left alone) from item, a string or an object {"content":
 * ..., flags}; `special` is the default of the special flag. */
static loupe_status read_token_fields(const cJSON *item, bool special, const char *file, const char *entry,
                               added_token *token, loupe_error *error) {
    token->special = special;
    token->lstrip = token->rstrip = token->single_word = false;
    if (cJSON_IsString(item)) {
        token->content = item->valuestring;
        token->length = strlen(item->valuestring);
        token->normalized = !special;
        return LOUPE_OK;
    }
    if (!cJSON_IsObject(item))
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: %s: expected a string or an object, got %s", file,
                         entry, json_type_name(item));
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(item, "content");
    if (!cJSON_IsString(content))
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: %s.content: expected a string, got %s", file, entry,
                         content ? json_type_name(content) : "nothing");
    token->content = content->valuestring;
    token->length = strlen(content->valuestring);
    loupe_status status = read_flag(item, "special", &token->special, file, entry, error);
    token->normalized = !token->special; /* transformers' AddedToken default */
    if (status == LOUPE_OK) status = read_flag(item, "lstrip", &token->lstrip, file, entry, error);
    if (status == LOUPE_OK) status = read_flag(item, "rstrip", &token->rstrip, file, entry, error);
    if (status == LOUPE_OK) status = read_flag(item, "single_word", &token->single_word, file, entry, error);
    if (status == LOUPE_OK) status = read_flag(item, "normalized", &token->normalized, file, entry, error);
    return status;
}

/* read_token_fields, and the content's length checked. */
static loupe_status read_token(const cJSON *item, bool special, const char *file, const char *entry,
                               added_token *token, loupe_error *error) {
    loupe_status status = read_token_fields(item, special, file, entry, token, error);
    if (status == LOUPE_OK && token->length > ADDED_TOKENS_MAX_CONTENT_BYTES)
        status = error_set(error, LOUPE_ERROR_LIMIT, "%s: %s.content: %zu bytes, longer than the limit of %d",
                           file, entry, token->length, ADDED_TOKENS_MAX_CONTENT_BYTES);
    return status;
}

/* Makes the token `token` (content and flags) special: marks the added token
 * of that content, or adds it with its vocab.json id or the next new one.
 * A default absent from vocab.json is dropped. *id_out gets its id (-1 when
 * dropped or empty). */
static loupe_status add_special(token_list *list, const bpe_vocab *vocab, added_token token, bool is_default,
                                int32_t *id_out, loupe_error *error) {
    *id_out = -1;
    if (token.length == 0) return LOUPE_OK;
    token.special = true;
    long index = list_find(list, token.content, token.length);
    if (index >= 0) {
        list->tokens[index].special = true;
        *id_out = list->tokens[index].id;
        return LOUPE_OK;
    }
    token.id = vocab_id_of(vocab, token.content, token.length);
    if (token.id < 0 && is_default) return LOUPE_OK;
    if (token.id < 0) {
        if (list->next_new_id == INT32_MAX)
            return error_set(error, LOUPE_ERROR_LIMIT, "added tokens: no id left for a new token");
        token.id = list->next_new_id;
    }
    *id_out = token.id;
    return list_add(list, &token, error);
}

/* ------------------------------------------------------------------------
 * The files
 * ---------------------------------------------------------------------- */

/* Parses a present file into an object (*root NULL when absent). */
static loupe_status parse_object(const hf_tokenizer_file *file, cJSON **root, loupe_error *error) {
    *root = NULL;
    if (file->text == NULL) return LOUPE_OK;
    loupe_status status = json_parse(file->text, file->length, file->name, root, error);
    if (status == LOUPE_OK && !cJSON_IsObject(*root)) {
        status = error_set(error, LOUPE_ERROR_FORMAT, "%s: expected a JSON object, got %s", file->name,
                           json_type_name(*root));
        cJSON_Delete(*root);
        *root = NULL;
    }
    return status;
}

/* A whole decimal number 0 .. INT32_MAX written as a string (an object key). */
static bool parse_id_key(const char *key, int32_t *id) {
    if (key == NULL || key[0] == '\0') return false;
    int64_t value = 0;
    for (const char *c = key; *c; c++) {
        if (*c < '0' || *c > '9') return false;
        value = value * 10 + (*c - '0');
        if (value > INT32_MAX) return false;
    }
    *id = (int32_t)value;
    return true;
}

/* tokenizer_config.json's added_tokens_decoder. */
static loupe_status read_added_tokens_decoder(const cJSON *decoder, const char *file, token_list *list,
                                              loupe_error *error) {
    if (!cJSON_IsObject(decoder))
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: added_tokens_decoder: expected an object, got %s",
                         file, json_type_name(decoder));
    const cJSON *item = NULL;
    cJSON_ArrayForEach(item, decoder) {
        char entry[96];
        snprintf(entry, sizeof entry, "added_tokens_decoder[\"%.48s\"]", item->string ? item->string : "");
        added_token token = {0};
        if (!parse_id_key(item->string, &token.id))
            return error_set(error, LOUPE_ERROR_FORMAT, "%s: %s: the key is not a token id 0 .. %d", file,
                             entry, INT32_MAX);
        if (!cJSON_IsObject(item))
            return error_set(error, LOUPE_ERROR_FORMAT, "%s: %s: expected an object, got %s", file, entry,
                             json_type_name(item));
        loupe_status status = read_token(item, false, file, entry, &token, error);
        if (status != LOUPE_OK) return status;
        if (token.length > 0 && list_find(list, token.content, token.length) < 0 &&
            (status = list_add(list, &token, error)) != LOUPE_OK)
            return status;
    }
    return LOUPE_OK;
}

/* added_tokens.json: {"content": id, ...}, non-special tokens. */
static loupe_status read_added_tokens_file(const cJSON *root, const char *file, token_list *list,
                                           loupe_error *error) {
    const cJSON *item = NULL;
    cJSON_ArrayForEach(item, root) {
        uint64_t id = 0;
        if (!json_get_natural(item, &id) || id > INT32_MAX)
            return error_set(error, LOUPE_ERROR_FORMAT, "%s: \"%.48s\": expected a token id 0 .. %d, got %s",
                             file, item->string, INT32_MAX, json_type_name(item));
        size_t length = strlen(item->string);
        if (length > ADDED_TOKENS_MAX_CONTENT_BYTES)
            return error_set(error, LOUPE_ERROR_LIMIT, "%s: a key of %zu bytes, longer than the limit of %d",
                             file, length, ADDED_TOKENS_MAX_CONTENT_BYTES);
        added_token token = {.content = item->string, .length = length, .id = (int32_t)id, .normalized = true};
        loupe_status status = LOUPE_OK;
        if (length > 0 && list_find(list, token.content, length) < 0 &&
            (status = list_add(list, &token, error)) != LOUPE_OK)
            return status;
    }
    return LOUPE_OK;
}

/* The entry `key` of special_map when it has it (legacy files only), else
 * of config; *file names where it was found. NULL when neither has it. */
static const cJSON *special_entry(const cJSON *special_map, const cJSON *config, const char *key,
                                  const hf_tokenizer_files *files, const char **file) {
    const cJSON *item = special_map ? cJSON_GetObjectItemCaseSensitive(special_map, key) : NULL;
    *file = files->special_map.name;
    if (item != NULL) return item;
    *file = files->config.name;
    return config ? cJSON_GetObjectItemCaseSensitive(config, key) : NULL;
}

/* The special tokens named by special_map or config, with GPT2TokenizerFast's
 * defaults where neither names bos, eos or unk. */
static loupe_status read_special_tokens(const cJSON *special_map, const cJSON *config,
                                        const hf_tokenizer_files *files, const bpe_vocab *vocab,
                                        token_list *list, int32_t *bos_id, loupe_error *error) {
    loupe_status status = LOUPE_OK;
    const char *file = NULL;
    for (size_t a = 0; status == LOUPE_OK && a < sizeof special_attributes / sizeof *special_attributes; a++) {
        const cJSON *item = special_entry(special_map, config, special_attributes[a], files, &file);
        int32_t id = -1;
        added_token token = {0};
        if (item == NULL && a < 3) { /* bos, eos, unk */
            token = (added_token){.content = gpt2_default_special, .length = sizeof gpt2_default_special - 1};
            status = add_special(list, vocab, token, true, &id, error);
        } else if (item != NULL && !cJSON_IsNull(item)) {
            status = read_token(item, true, file, special_attributes[a], &token, error);
            if (status == LOUPE_OK) status = add_special(list, vocab, token, false, &id, error);
        }
        if (a == 0) *bos_id = id;
    }
    const cJSON *additional = special_entry(special_map, config, "additional_special_tokens", files, &file);
    if (status != LOUPE_OK || additional == NULL || cJSON_IsNull(additional)) return status;
    if (!cJSON_IsArray(additional))
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: additional_special_tokens: expected a list, got %s",
                         file, json_type_name(additional));
    const cJSON *item = NULL;
    int index = 0;
    cJSON_ArrayForEach(item, additional) {
        char entry[64];
        snprintf(entry, sizeof entry, "additional_special_tokens[%d]", index++);
        added_token token = {0};
        int32_t id = -1;
        status = read_token(item, true, file, entry, &token, error);
        if (status == LOUPE_OK) status = add_special(list, vocab, token, false, &id, error);
        if (status != LOUPE_OK) return status;
    }
    return LOUPE_OK;
}

loupe_status hf_added_tokens_parse(const hf_tokenizer_files *files, const bpe_vocab *vocab,
                                   added_vocabulary **out, int32_t *bos_id_out, loupe_error *error) {
    *out = NULL;
    *bos_id_out = -1;
    token_list list = {.next_new_id = vocab->n_tokens};
    if (string_map_init(&list.index_by_content, 16) != 0)
        return error_set(error, LOUPE_ERROR_MEMORY, "added tokens: out of memory");
    cJSON *config = NULL, *special_map = NULL, *added = NULL;
    loupe_status status = parse_object(&files->config, &config, error);
    const cJSON *decoder = config ? cJSON_GetObjectItemCaseSensitive(config, "added_tokens_decoder") : NULL;
    if (status == LOUPE_OK && decoder != NULL) {
        status = read_added_tokens_decoder(decoder, files->config.name, &list, error);
    } else if (status == LOUPE_OK) { /* transformers' legacy files */
        status = parse_object(&files->added, &added, error);
        if (status == LOUPE_OK && added) status = read_added_tokens_file(added, files->added.name, &list, error);
        if (status == LOUPE_OK) status = parse_object(&files->special_map, &special_map, error);
    }
    if (status == LOUPE_OK)
        status = read_special_tokens(special_map, config, files, vocab, &list, bos_id_out, error);
    if (status == LOUPE_OK) status = added_vocabulary_create(list.tokens, list.count, out, error);
    if (status != LOUPE_OK) *bos_id_out = -1;
    cJSON_Delete(config);
    cJSON_Delete(special_map);
    cJSON_Delete(added);
    free(list.tokens);
    string_map_free(&list.index_by_content);
    return status;
}

/* Reads directory/name into *file when the folder has it. */
static loupe_status read_optional(const char *directory, const char *name, hf_tokenizer_file *file,
                                  char **path_out, loupe_error *error) {
    *file = (hf_tokenizer_file){.name = name};
    if (directory == NULL) return LOUPE_OK;
    char *path = path_join(directory, name);
    *path_out = path;
    if (path == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", directory);
    file->name = path;
    if (!path_is_file(path)) return LOUPE_OK;
    char *text = NULL;
    loupe_status status = file_read_all(path, HF_ADDED_TOKENS_MAX_FILE_BYTES, &text, &file->length, error);
    file->text = text;
    return status;
}

loupe_status hf_added_tokens_load(const char *directory, const bpe_vocab *vocab, added_vocabulary **out,
                                  int32_t *bos_id_out, loupe_error *error) {
    *out = NULL;
    *bos_id_out = -1;
    hf_tokenizer_files files;
    memset(&files, 0, sizeof files);
    char *paths[3] = {NULL, NULL, NULL};
    loupe_status status = read_optional(directory, "tokenizer_config.json", &files.config, &paths[0], error);
    if (status == LOUPE_OK)
        status = read_optional(directory, "special_tokens_map.json", &files.special_map, &paths[1], error);
    if (status == LOUPE_OK) status = read_optional(directory, "added_tokens.json", &files.added, &paths[2], error);
    if (status == LOUPE_OK) status = hf_added_tokens_parse(&files, vocab, out, bos_id_out, error);
    free((char *)files.config.text);
    free((char *)files.special_map.text);
    free((char *)files.added.text);
    for (int i = 0; i < 3; i++) free(paths[i]);
    return status;
}
