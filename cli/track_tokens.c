/*
 * track_tokens.c - the tokens named with --track (lens and corpus): a
 * token's text, encoded with the model's tokenizer, or its id.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

bool cli_track_add(const char *text, cli_track_list *list) {
    if (list->count >= LOUPE_LENS_MAX_TRACK) {
        cli_error("--track: at most %d tokens can be tracked", LOUPE_LENS_MAX_TRACK);
        return false;
    }
    list->texts[list->count++] = text;
    return true;
}

/* True when text is a non-empty run of decimal digits. */
static bool is_id(const char *text) {
    if (*text == '\0') return false;
    for (const char *c = text; *c != '\0'; c++)
        if (*c < '0' || *c > '9') return false;
    return true;
}

/* The id of one --track argument; false with the message printed. */
static bool resolve_one(const loupe_tokenizer *tokenizer, int n_vocab, const char *text, int32_t *id) {
    if (is_id(text)) {
        char *end = NULL;
        long value = strtol(text, &end, 10);
        if (strlen(text) > 9 || value >= n_vocab) {
            cli_error("--track: %s is not a token id below %d", text, n_vocab);
            return false;
        }
        *id = (int32_t)value;
        return true;
    }
    loupe_encode_params params = loupe_encode_default_params();
    params.add_special = false;
    int32_t *ids = NULL;
    size_t count = 0;
    loupe_error error;
    if (loupe_tokenizer_encode_with_params(tokenizer, text, strlen(text), &params, &ids, &count, &error) !=
        LOUPE_OK) {
        cli_fail(&error);
        return false;
    }
    bool ok = count == 1;
    if (ok) *id = ids[0];
    else if (count == 0) cli_error("--track: '%s' encodes to no token", text);
    else cli_error("--track: '%s' is %zu tokens, not one; track a single token (its id from loupe tokenize)",
                   text, count);
    loupe_free(ids);
    return ok;
}

bool cli_track_resolve(const loupe_tokenizer *tokenizer, int n_vocab, cli_track_list *list) {
    for (int k = 0; k < list->count; k++)
        if (!resolve_one(tokenizer, n_vocab, list->texts[k], &list->ids[k])) return false;
    return true;
}
