/*
 * bpe_vocab.c - reading and checking vocab.json.
 */
#include "tokenizer/bpe_vocab.h"

#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "io/json.h"
#include "tokenizer/byte_unicode.h"
#include "util/error.h"
#include "util/file_map.h"

/* Decodes a byte-level string into raw bytes: out receives at most length
 * bytes. Returns the number of bytes, or -1 with *bad_codepoint set (-1 for
 * invalid UTF-8) when a character stands for no byte. */
static long byte_level_decode(const char *text, size_t length, char *out, int32_t *bad_codepoint) {
    size_t at = 0, written = 0;
    while (at < length) {
        utf8proc_int32_t codepoint = -1;
        utf8proc_ssize_t used = utf8proc_iterate((const utf8proc_uint8_t *)text + at,
                                                 (utf8proc_ssize_t)(length - at), &codepoint);
        int byte = used > 0 ? byte_unicode_to_byte(codepoint) : -1;
        if (byte < 0) {
            *bad_codepoint = used > 0 ? codepoint : -1;
            return -1;
        }
        out[written++] = (char)byte;
        at += (size_t)used;
    }
    return (long)written;
}

/* Checks one "key": id entry of the object (V = n_tokens entries) and
 * records its key in key_of_id (V). */
static loupe_status check_entry(const char *path, const cJSON *entry, int32_t n_tokens,
                                const char **key_of_id, loupe_error *error) {
    const char *key = entry->string;
    uint64_t id = 0;
    if (!json_get_natural(entry, &id)) {
        if (cJSON_IsNumber(entry) && entry->valuedouble < 0)
            return error_set(error, LOUPE_ERROR_FORMAT, "%s: key \"%s\": negative id %g", path, key,
                             entry->valuedouble);
        if (cJSON_IsNumber(entry))
            return error_set(error, LOUPE_ERROR_FORMAT, "%s: key \"%s\": id %g is not a whole number",
                             path, key, entry->valuedouble);
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: key \"%s\": id is %s, not an integer", path,
                         key, json_type_name(entry));
    }
    if (id >= (uint64_t)n_tokens)
        return error_set(error, LOUPE_ERROR_FORMAT,
                         "%s: key \"%s\": id %llu is out of range: ids must be dense 0..%d", path,
                         key, (unsigned long long)id, (int)n_tokens - 1);
    if (key_of_id[id] != NULL)
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: key \"%s\": duplicate id %llu (also \"%s\")",
                         path, key, (unsigned long long)id, key_of_id[id]);
    if (key[0] == '\0')
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: key \"\": empty token", path);
    key_of_id[id] = key;
    return LOUPE_OK;
}

/* Fills vocab from the checked root object. */
static loupe_status fill_vocab(const char *path, const cJSON *root, int32_t n_tokens,
                               bpe_vocab *vocab, loupe_error *error) {
    const char **key_of_id = calloc((size_t)n_tokens, sizeof *key_of_id);
    if (key_of_id == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", path);
    loupe_status status = LOUPE_OK;
    size_t total_bytes = 0;
    for (const cJSON *entry = root->child; entry != NULL; entry = entry->next) {
        status = check_entry(path, entry, n_tokens, key_of_id, error);
        if (status != LOUPE_OK) goto done;
        total_bytes += strlen(entry->string); /* raw bytes never outnumber UTF-8 bytes */
    }
    vocab->n_tokens = n_tokens;
    vocab->token_bytes = malloc(total_bytes + 1);
    vocab->token_offsets = malloc(((size_t)n_tokens + 1) * sizeof *vocab->token_offsets);
    if (vocab->token_bytes == NULL || vocab->token_offsets == NULL ||
        string_map_init(&vocab->ids_by_text, (size_t)n_tokens) != 0) {
        status = error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", path);
        goto done;
    }
    for (int b = 0; b < 256; b++) vocab->byte_ids[b] = -1;
    size_t offset = 0;
    for (int32_t id = 0; id < n_tokens; id++) {
        const char *key = key_of_id[id];
        size_t key_length = strlen(key);
        int32_t bad_codepoint = 0;
        long decoded = byte_level_decode(key, key_length, vocab->token_bytes + offset, &bad_codepoint);
        if (decoded < 0) {
            if (bad_codepoint < 0)
                status = error_set(error, LOUPE_ERROR_FORMAT, "%s: key \"%s\": invalid UTF-8", path, key);
            else
                status = error_set(error, LOUPE_ERROR_FORMAT,
                                   "%s: key \"%s\": character U+%04X stands for no byte in a "
                                   "byte-level vocabulary", path, key, (unsigned)bad_codepoint);
            goto done;
        }
        int put = string_map_put(&vocab->ids_by_text, key, key_length, id);
        if (put < 0) {
            status = error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", path);
            goto done;
        }
        if (put == 0) {
            status = error_set(error, LOUPE_ERROR_FORMAT, "%s: key \"%s\": duplicate key", path, key);
            goto done;
        }
        vocab->token_offsets[id] = offset;
        if (decoded == 1) vocab->byte_ids[(uint8_t)vocab->token_bytes[offset]] = id;
        offset += (size_t)decoded;
    }
    vocab->token_offsets[n_tokens] = offset;
    for (int b = 0; b < 256; b++) {
        if (vocab->byte_ids[b] < 0) {
            char utf8[BYTE_UNICODE_MAX_UTF8 + 1] = {0};
            byte_unicode_encode_utf8((uint8_t)b, utf8);
            status = error_set(error, LOUPE_ERROR_FORMAT,
                               "%s: no token for byte 0x%02X (key \"%s\"): every byte needs one",
                               path, b, utf8);
            goto done;
        }
    }
done:
    free(key_of_id);
    return status;
}

/* Builds vocab from a parsed vocab.json; root stays the caller's. */
static loupe_status vocab_from_root(const cJSON *root, const char *path, bpe_vocab *vocab,
                                    loupe_error *error) {
    if (!cJSON_IsObject(root))
        return error_set(error, LOUPE_ERROR_FORMAT,
                         "%s: expected an object mapping tokens to ids, found %s", path,
                         json_type_name(root));
    int n_entries = cJSON_GetArraySize(root);
    if (n_entries <= 0) return error_set(error, LOUPE_ERROR_FORMAT, "%s: the vocabulary is empty", path);
    if (n_entries > BPE_VOCAB_MAX_TOKENS)
        return error_set(error, LOUPE_ERROR_LIMIT, "%s: %d tokens, more than the limit of %d", path,
                         n_entries, BPE_VOCAB_MAX_TOKENS);
    return fill_vocab(path, root, (int32_t)n_entries, vocab, error);
}

loupe_status bpe_vocab_parse(const char *text, size_t length, const char *display_name,
                             bpe_vocab *vocab, loupe_error *error) {
    memset(vocab, 0, sizeof *vocab);
    cJSON *root = NULL;
    loupe_status status = json_parse(text, length, display_name, &root, error);
    if (status == LOUPE_OK) status = vocab_from_root(root, display_name, vocab, error);
    cJSON_Delete(root);
    if (status != LOUPE_OK) bpe_vocab_free(vocab);
    return status;
}

loupe_status bpe_vocab_load(const char *path, bpe_vocab *vocab, loupe_error *error) {
    memset(vocab, 0, sizeof *vocab);
    cJSON *root = NULL;
    loupe_status status = json_parse_file(path, BPE_VOCAB_MAX_FILE_BYTES, &root, error);
    if (status == LOUPE_OK) status = vocab_from_root(root, path, vocab, error);
    cJSON_Delete(root);
    if (status != LOUPE_OK) bpe_vocab_free(vocab);
    return status;
}

void bpe_vocab_free(bpe_vocab *vocab) {
    if (vocab == NULL) return;
    free(vocab->token_bytes);
    free(vocab->token_offsets);
    string_map_free(&vocab->ids_by_text);
    memset(vocab, 0, sizeof *vocab);
}

int32_t bpe_vocab_find(const bpe_vocab *vocab, const char *text, size_t length) {
    int64_t id = 0;
    return string_map_get(&vocab->ids_by_text, text, length, &id) ? (int32_t)id : -1;
}
