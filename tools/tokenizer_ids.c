/*
 * tokenizer_ids.c - prints loupe's token ids for a list of texts, to be
 * compared with another tokenizer's (tests/tokenizer_reference/).
 *
 *   tokenizer_ids TOKENIZER_DIR TEXTS_JSON [--no-special]
 *
 * TEXTS_JSON is a JSON array of strings. Prints one line per text: its ids
 * separated by single spaces. --no-special encodes with special tokens
 * neither matched in the text nor added around it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/json.h"
#include "loupe.h"

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[3], "--no-special") != 0)) {
        fprintf(stderr, "usage: %s TOKENIZER_DIR TEXTS_JSON [--no-special]\n", argv[0]);
        return 2;
    }
    loupe_error error;
    cJSON *texts = NULL;
    if (json_parse_file(argv[2], (size_t)1 << 30, &texts, &error) != LOUPE_OK) {
        fprintf(stderr, "%s\n", error.message);
        return 1;
    }
    if (!cJSON_IsArray(texts)) {
        fprintf(stderr, "%s: expected a JSON array of strings\n", argv[2]);
        cJSON_Delete(texts);
        return 1;
    }
    loupe_tokenizer *tokenizer = NULL;
    if (loupe_tokenizer_open(argv[1], &tokenizer, &error) != LOUPE_OK) {
        fprintf(stderr, "%s\n", error.message);
        cJSON_Delete(texts);
        return 1;
    }
    loupe_encode_params params = loupe_encode_default_params();
    if (argc == 4) params.match_special = params.add_special = false;
    int status = 0, index = 0;
    for (const cJSON *text = texts->child; text != NULL && status == 0; text = text->next, index++) {
        if (!cJSON_IsString(text)) {
            fprintf(stderr, "%s: item %d is not a string\n", argv[2], index);
            status = 1;
            break;
        }
        int32_t *ids = NULL;
        size_t count = 0;
        if (loupe_tokenizer_encode_with_params(tokenizer, text->valuestring, strlen(text->valuestring), &params, &ids,
                                               &count, &error) != LOUPE_OK) {
            fprintf(stderr, "text %d: %s\n", index, error.message);
            status = 1;
            break;
        }
        for (size_t i = 0; i < count; i++) printf(i ? " %d" : "%d", (int)ids[i]);
        printf("\n");
        loupe_free(ids);
    }
    loupe_tokenizer_close(tokenizer);
    cJSON_Delete(texts);
    return status;
}
