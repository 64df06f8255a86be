/*
 * lens_json_read.c - reads a loupe.lens/1 document (docs/LENS_JSON.md) back
 * into a loupe_lens_saved (loupe_lens_read_json of loupe.h). The document is hostile until proven otherwise: every
 * field is checked for its type, its range and its agreement with the
 * others (array lengths against the windows, ids below n_vocab, the input
 * and next tokens against `tokens`), and each failure names the file and
 * the field, e.g. "x.json: cells[2][5].target.rank: expected a whole number
 * in 1 .. 50257".
 */
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "io/json.h"
#include "loupe.h"
#include "util/error.h"

enum { WHERE_CAPACITY = 40, FIELD_CAPACITY = 128 };

/* What the checks share: the file's name for messages and the error. */
typedef struct reader {
    const char *name;
    loupe_error *error;
} reader;

static loupe_status fail(const reader *r, const char *field, const char *what, const cJSON *item) {
    if (item == NULL) return error_set(r->error, LOUPE_ERROR_FORMAT, "%s: %s: missing, %s", r->name, field, what);
    return error_set(r->error, LOUPE_ERROR_FORMAT, "%s: %s: %s, got %s", r->name, field, what, json_type_name(item));
}

/* ------------------------------------------------------------------------
 * Fields
 * ---------------------------------------------------------------------- */

static loupe_status get_object(const reader *r, const cJSON *parent, const char *key, const char *field,
                               const cJSON **item) {
    *item = cJSON_GetObjectItemCaseSensitive(parent, key);
    if (!cJSON_IsObject(*item)) return fail(r, field, "expected an object", *item);
    return LOUPE_OK;
}

/* An array of exactly `count` items (any count when count < 0). */
static loupe_status get_array(const reader *r, const cJSON *item, const char *field, int count) {
    if (!cJSON_IsArray(item)) return fail(r, field, "expected an array", item);
    int size = cJSON_GetArraySize(item);
    if (count >= 0 && size != count)
        return error_set(r->error, LOUPE_ERROR_FORMAT, "%s: %s: expected %d items, got %d", r->name, field, count, size);
    return LOUPE_OK;
}

/* A number field that is not what `what` says: its value when it is a
 * number (out of range), else its type. */
static loupe_status fail_number(const reader *r, const cJSON *item, const char *field, const char *what) {
    if (cJSON_IsNumber(item))
        return error_set(r->error, LOUPE_ERROR_FORMAT, "%s: %s: %s, got %.17g", r->name, field, what,
                         item->valuedouble);
    return fail(r, field, what, item);
}

/* A whole number in [min, max]. */
static loupe_status get_int(const reader *r, const cJSON *item, const char *field, long min, long max, long *value) {
    uint64_t natural = 0;
    if (!json_get_natural(item, &natural) || natural < (uint64_t)min || natural > (uint64_t)max) {
        char what[80];
        snprintf(what, sizeof what, "expected a whole number in %ld .. %ld", min, max);
        return fail_number(r, item, field, what);
    }
    *value = (long)natural;
    return LOUPE_OK;
}

/* A finite number in [min, max]. */
static loupe_status get_float(const reader *r, const cJSON *item, const char *field, double min, double max,
                              float *value) {
    if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble) || item->valuedouble < min ||
        item->valuedouble > max) {
        char what[96];
        snprintf(what, sizeof what, "expected a finite number in %g .. %g", min, max);
        return fail_number(r, item, field, what);
    }
    *value = (float)item->valuedouble;
    return LOUPE_OK;
}

/* A string of at most LOUPE_LENS_SAVED_MAX_TEXT bytes, copied (caller frees). */
static loupe_status get_string(const reader *r, const cJSON *item, const char *field, char **value) {
    if (!cJSON_IsString(item) || item->valuestring == NULL) return fail(r, field, "expected a string", item);
    size_t length = strlen(item->valuestring);
    if (length > LOUPE_LENS_SAVED_MAX_TEXT)
        return error_set(r->error, LOUPE_ERROR_LIMIT, "%s: %s: a string of %zu bytes, more than %d", r->name, field,
                         length, LOUPE_LENS_SAVED_MAX_TEXT);
    *value = malloc(length + 1);
    if (*value == NULL) return error_set(r->error, LOUPE_ERROR_MEMORY, "%s: %s: out of memory", r->name, field);
    memcpy(*value, item->valuestring, length + 1);
    return LOUPE_OK;
}

/* [first, end) with 0 <= first < end <= limit. */
static loupe_status get_window(const reader *r, const cJSON *root, const char *key, long limit, int *first,
                               int *end) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);
    loupe_status status = get_array(r, item, key, 2);
    if (status != LOUPE_OK) return status;
    char field[FIELD_CAPACITY];
    long values[2];
    for (int i = 0; i < 2; i++) {
        snprintf(field, sizeof field, "%s[%d]", key, i);
        status = get_int(r, cJSON_GetArrayItem(item, i), field, 0, limit, &values[i]);
        if (status != LOUPE_OK) return status;
    }
    if (values[0] >= values[1])
        return error_set(r->error, LOUPE_ERROR_FORMAT, "%s: %s: [%ld, %ld) is empty", r->name, key, values[0],
                         values[1]);
    *first = (int)values[0];
    *end = (int)values[1];
    return LOUPE_OK;
}

/* ------------------------------------------------------------------------
 * The parts of the document
 * ---------------------------------------------------------------------- */

static loupe_status read_model(const reader *r, const cJSON *root, loupe_lens_saved *saved) {
    const cJSON *model = NULL;
    loupe_status status = get_object(r, root, "model", "model", &model);
    if (status == LOUPE_OK)
        status = get_string(r, cJSON_GetObjectItemCaseSensitive(model, "name"), "model.name", &saved->model_name);
    if (status == LOUPE_OK)
        status = get_string(r, cJSON_GetObjectItemCaseSensitive(model, "directory"), "model.directory",
                            &saved->model_directory);
    static const struct {
        const char *key;
        long min, max;
    } sizes[] = {
        {"n_layer", 1, LOUPE_LENS_SAVED_MAX_LAYERS}, {"n_embd", 1, INT32_MAX}, {"n_head", 1, INT32_MAX},
        {"n_vocab", 1, INT32_MAX},             {"n_ctx", 1, INT32_MAX},
    };
    long values[5] = {0};
    for (int i = 0; i < 5 && status == LOUPE_OK; i++) {
        char field[FIELD_CAPACITY];
        snprintf(field, sizeof field, "model.%s", sizes[i].key);
        status = get_int(r, cJSON_GetObjectItemCaseSensitive(model, sizes[i].key), field, sizes[i].min, sizes[i].max,
                         &values[i]);
    }
    if (status != LOUPE_OK) return status;
    saved->info.architecture = saved->info.model_type = saved->info.activation = saved->info.dtype = "";
    saved->info.directory = saved->model_directory;
    saved->info.n_layer = (int)values[0];
    saved->info.n_embd = (int)values[1];
    saved->info.n_head = (int)values[2];
    saved->info.n_vocab = (int)values[3];
    saved->info.n_ctx = (int)values[4];
    return LOUPE_OK;
}

static loupe_status read_options(const reader *r, const cJSON *root, loupe_lens_saved *saved) {
    const cJSON *options = NULL;
    loupe_status status = get_object(r, root, "options", "options", &options);
    long topk = 0;
    if (status == LOUPE_OK)
        status = get_int(r, cJSON_GetObjectItemCaseSensitive(options, "topk"), "options.topk", 1, LOUPE_LENS_MAX_TOPK,
                         &topk);
    if (status != LOUPE_OK) return status;
    const cJSON *subblocks = cJSON_GetObjectItemCaseSensitive(options, "subblocks");
    if (!cJSON_IsBool(subblocks)) return fail(r, "options.subblocks", "expected true or false", subblocks);
    saved->topk = (int)topk;
    saved->subblocks = cJSON_IsTrue(subblocks);
    const cJSON *track = cJSON_GetObjectItemCaseSensitive(options, "track");
    if (track != NULL) {
        int n = cJSON_IsArray(track) ? cJSON_GetArraySize(track) : -1;
        if (n < 1 || n > LOUPE_LENS_MAX_TRACK)
            return error_set(r->error, LOUPE_ERROR_FORMAT, "%s: options.track: expected a list of 1 .. %d token ids",
                             r->name, LOUPE_LENS_MAX_TRACK);
        saved->n_track = n;
        for (int k = 0; k < n && status == LOUPE_OK; k++) {
            char field[FIELD_CAPACITY];
            long id = 0;
            snprintf(field, sizeof field, "options.track[%d]", k);
            status = get_int(r, cJSON_GetArrayItem(track, k), field, 0, saved->info.n_vocab - 1, &id);
            saved->track_ids[k] = (int32_t)id;
            if (id > saved->max_id) saved->max_id = (int32_t)id;
        }
        if (status != LOUPE_OK) return status;
    }
    const cJSON *contributions = cJSON_GetObjectItemCaseSensitive(options, "contributions");
    if (contributions != NULL && !cJSON_IsBool(contributions))
        return fail(r, "options.contributions", "expected true or false", contributions);
    saved->contributions = cJSON_IsTrue(contributions);
    return LOUPE_OK;
}

/* tokens[j] = {"id", "text"} for every position of the window. */
static loupe_status read_tokens(const reader *r, const cJSON *root, loupe_lens_saved *saved, int n_positions) {
    const cJSON *tokens = cJSON_GetObjectItemCaseSensitive(root, "tokens");
    loupe_status status = get_array(r, tokens, "tokens", n_positions);
    for (int j = 0; j < n_positions && status == LOUPE_OK; j++) {
        const cJSON *token = cJSON_GetArrayItem(tokens, j);
        char field[FIELD_CAPACITY];
        snprintf(field, sizeof field, "tokens[%d]", j);
        if (!cJSON_IsObject(token)) return fail(r, field, "expected an object", token);
        long id = 0;
        snprintf(field, sizeof field, "tokens[%d].id", j);
        status = get_int(r, cJSON_GetObjectItemCaseSensitive(token, "id"), field, 0, saved->info.n_vocab - 1, &id);
        saved->ids[j] = (int32_t)id;
        if (status != LOUPE_OK) break;
        snprintf(field, sizeof field, "tokens[%d].text", j);
        status = get_string(r, cJSON_GetObjectItemCaseSensitive(token, "text"), field, &saved->token_texts[j]);
    }
    return status;
}

static loupe_status read_layers(const reader *r, const cJSON *root, loupe_lens_saved *saved, int n_rows) {
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(root, "layers");
    loupe_status status = get_array(r, layers, "layers", n_rows);
    for (int i = 0; i < n_rows && status == LOUPE_OK; i++) {
        char field[FIELD_CAPACITY];
        snprintf(field, sizeof field, "layers[%d]", i);
        status = get_string(r, cJSON_GetArrayItem(layers, i), field, &saved->row_names[i]);
    }
    return status;
}

/* {"id", "prob", "logit", "rank"} of one token in one cell: `item`, named
 * where.key in messages. */
static loupe_status read_token_item(const reader *r, const cJSON *item, const char *key, const char *where,
                                    const loupe_lens_saved *saved, loupe_lens_token *token) {
    char field[FIELD_CAPACITY];
    snprintf(field, sizeof field, "%s.%s", where, key);
    if (!cJSON_IsObject(item)) return fail(r, field, "expected an object", item);
    long id = 0, rank = 0;
    snprintf(field, sizeof field, "%s.%s.id", where, key);
    loupe_status status = get_int(r, cJSON_GetObjectItemCaseSensitive(item, "id"), field, 0, saved->info.n_vocab - 1, &id);
    if (status == LOUPE_OK) {
        snprintf(field, sizeof field, "%s.%s.prob", where, key);
        status = get_float(r, cJSON_GetObjectItemCaseSensitive(item, "prob"), field, 0.0, 1.0, &token->prob);
    }
    if (status == LOUPE_OK) {
        snprintf(field, sizeof field, "%s.%s.logit", where, key);
        status = get_float(r, cJSON_GetObjectItemCaseSensitive(item, "logit"), field, -HUGE_VAL, HUGE_VAL,
                           &token->logit);
    }
    if (status == LOUPE_OK) {
        snprintf(field, sizeof field, "%s.%s.rank", where, key);
        status = get_int(r, cJSON_GetObjectItemCaseSensitive(item, "rank"), field, 1, saved->info.n_vocab, &rank);
    }
    token->id = (int32_t)id;
    token->rank = (int32_t)rank;
    token->log_prob = (float)log(token->prob); /* the JSON keeps the probability only */
    return status;
}

/* The token cell[key]. */
static loupe_status read_token(const reader *r, const cJSON *cell, const char *key, const char *where,
                               const loupe_lens_saved *saved, loupe_lens_token *token) {
    return read_token_item(r, cJSON_GetObjectItemCaseSensitive(cell, key), key, where, saved, token);
}

/* cell["tracked"]: one token per options.track id, in its order. */
static loupe_status read_tracked(const reader *r, const cJSON *cell, const char *where, loupe_lens_saved *saved,
                                 loupe_lens_token *tracked) {
    char field[FIELD_CAPACITY];
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(cell, "tracked");
    snprintf(field, sizeof field, "%s.tracked", where);
    loupe_status status = get_array(r, list, field, saved->n_track);
    for (int k = 0; k < saved->n_track && status == LOUPE_OK; k++) {
        char key[32];
        snprintf(key, sizeof key, "tracked[%d]", k);
        status = read_token_item(r, cJSON_GetArrayItem(list, k), key, where, saved, &tracked[k]);
        if (status == LOUPE_OK && tracked[k].id != saved->track_ids[k])
            return error_set(r->error, LOUPE_ERROR_FORMAT, "%s: %s.%s.id: %d is not options.track[%d] = %d", r->name,
                             where, key, tracked[k].id, k, saved->track_ids[k]);
    }
    return status;
}

/* One cell: row i, position j of the window (absolute position t). */
static loupe_status read_cell(const reader *r, const cJSON *item, int i, int j, loupe_lens_saved *saved) {
    char where[WHERE_CAPACITY], field[FIELD_CAPACITY];
    snprintf(where, sizeof where, "cells[%d][%d]", i, j);
    if (!cJSON_IsObject(item)) return fail(r, where, "expected an object", item);
    int n_positions = saved->position_end - saved->position_first;
    size_t index = (size_t)i * (size_t)n_positions + (size_t)j;
    loupe_lens_cell *cell = &saved->cells[index];
    int32_t *top_ids = saved->top_ids + index * (size_t)saved->topk;
    float *top_probs = saved->top_probs + index * (size_t)saved->topk;
    cell->top_ids = top_ids;
    cell->top_probs = top_probs;

    const cJSON *top = cJSON_GetObjectItemCaseSensitive(item, "top");
    snprintf(field, sizeof field, "%s.top", where);
    loupe_status status = get_array(r, top, field, -1);
    if (status != LOUPE_OK) return status;
    int n_top = cJSON_GetArraySize(top);
    if (n_top < 1 || n_top > saved->topk)
        return error_set(r->error, LOUPE_ERROR_FORMAT, "%s: %s: expected 1 .. %d [id, prob] pairs (options.topk), got %d",
                         r->name, field, saved->topk, n_top);
    cell->n_top = n_top;
    for (int k = 0; k < n_top; k++) {
        const cJSON *pair = cJSON_GetArrayItem(top, k);
        snprintf(field, sizeof field, "%s.top[%d]", where, k);
        status = get_array(r, pair, field, 2);
        long id = 0;
        if (status == LOUPE_OK) {
            snprintf(field, sizeof field, "%s.top[%d][0]", where, k);
            status = get_int(r, cJSON_GetArrayItem(pair, 0), field, 0, saved->info.n_vocab - 1, &id);
        }
        if (status == LOUPE_OK) {
            snprintf(field, sizeof field, "%s.top[%d][1]", where, k);
            status = get_float(r, cJSON_GetArrayItem(pair, 1), field, 0.0, 1.0, &top_probs[k]);
        }
        if (status != LOUPE_OK) return status;
        top_ids[k] = (int32_t)id;
        if (top_ids[k] > saved->max_id) saved->max_id = top_ids[k];
    }

    /* the true next token: present everywhere but the text's last position */
    if (cJSON_GetObjectItemCaseSensitive(item, "target") != NULL) {
        status = read_token(r, item, "target", where, saved, &cell->target);
        if (status != LOUPE_OK) return status;
        if (j + 1 < n_positions && cell->target.id != saved->ids[j + 1])
            return error_set(r->error, LOUPE_ERROR_FORMAT, "%s: %s.target.id: %d is not the next token tokens[%d].id = %d",
                             r->name, where, cell->target.id, j + 1, saved->ids[j + 1]);
        if (cell->target.id > saved->max_id) saved->max_id = cell->target.id;
    } else {
        if (j + 1 < n_positions)
            return error_set(r->error, LOUPE_ERROR_FORMAT,
                             "%s: %s.target: missing, but only the text's last position has no next token", r->name,
                             where);
        cell->target = (loupe_lens_token){.id = -1};
    }
    status = read_token(r, item, "input", where, saved, &cell->input);
    if (status == LOUPE_OK && cell->input.id != saved->ids[j])
        return error_set(r->error, LOUPE_ERROR_FORMAT, "%s: %s.input.id: %d is not tokens[%d].id = %d", r->name, where,
                         cell->input.id, j, saved->ids[j]);
    if (status == LOUPE_OK) status = read_token(r, item, "final_top", where, saved, &cell->final_top);
    if (status != LOUPE_OK) return status;
    if (cell->final_top.id > saved->max_id) saved->max_id = cell->final_top.id;

    struct {
        const char *key;
        float *value;
    } scalars[] = {
        {"entropy", &cell->entropy},   {"kl_final", &cell->kl_final}, {"kl_final_rev", &cell->kl_final_rev},
        {"kl_first", &cell->kl_first}, {"kl_first_rev", &cell->kl_first_rev},
    };
    for (size_t s = 0; s < sizeof scalars / sizeof scalars[0] && status == LOUPE_OK; s++) {
        snprintf(field, sizeof field, "%s.%s", where, scalars[s].key);
        status = get_float(r, cJSON_GetObjectItemCaseSensitive(item, scalars[s].key), field, 0.0, HUGE_VAL,
                           scalars[s].value);
    }
    if (status == LOUPE_OK && saved->n_track > 0) {
        cell->tracked = saved->tracked + index * (size_t)saved->n_track;
        cell->n_tracked = saved->n_track;
        status = read_tracked(r, item, where, saved, saved->tracked + index * (size_t)saved->n_track);
    }
    return status;
}

static loupe_status read_cells(const reader *r, const cJSON *root, loupe_lens_saved *saved, int n_rows, int n_positions) {
    const cJSON *cells = cJSON_GetObjectItemCaseSensitive(root, "cells");
    loupe_status status = get_array(r, cells, "cells", n_rows);
    for (int i = 0; i < n_rows && status == LOUPE_OK; i++) {
        const cJSON *row = cJSON_GetArrayItem(cells, i);
        char field[FIELD_CAPACITY];
        snprintf(field, sizeof field, "cells[%d]", i);
        status = get_array(r, row, field, n_positions);
        int j = 0;
        for (const cJSON *item = row ? row->child : NULL; item != NULL && status == LOUPE_OK; item = item->next)
            status = read_cell(r, item, i, j++, saved);
    }
    return status;
}

/* ------------------------------------------------------------------------
 * The document
 * ---------------------------------------------------------------------- */

/* Allocates the arrays of a window of n_rows x n_positions cells. */
static loupe_status allocate(const reader *r, loupe_lens_saved *saved, int n_rows, int n_positions) {
    size_t n_cells = (size_t)n_rows * (size_t)n_positions; /* both below 2^31: no overflow in size_t */
    if (n_cells > SIZE_MAX / ((size_t)saved->topk * sizeof(float)))
        return error_set(r->error, LOUPE_ERROR_LIMIT, "%s: cells: %zu cells are too many", r->name, n_cells);
    saved->ids = calloc((size_t)n_positions, sizeof *saved->ids);
    saved->token_texts = calloc((size_t)n_positions, sizeof *saved->token_texts);
    saved->row_names = calloc((size_t)n_rows, sizeof *saved->row_names);
    saved->cells = calloc(n_cells, sizeof *saved->cells);
    saved->top_ids = calloc(n_cells * (size_t)saved->topk, sizeof *saved->top_ids);
    saved->top_probs = calloc(n_cells * (size_t)saved->topk, sizeof *saved->top_probs);
    if (saved->n_track > 0) saved->tracked = calloc(n_cells * (size_t)saved->n_track, sizeof *saved->tracked);
    if (!saved->ids || !saved->token_texts || !saved->row_names || !saved->cells || !saved->top_ids ||
        !saved->top_probs || (saved->n_track > 0 && !saved->tracked))
        return error_set(r->error, LOUPE_ERROR_MEMORY, "%s: out of memory for %zu cells", r->name, n_cells);
    return LOUPE_OK;
}

static loupe_status read_document(const reader *r, const cJSON *root, loupe_lens_saved *saved) {
    if (!cJSON_IsObject(root)) return fail(r, "the document", "expected an object", root);
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(root, "schema");
    if (!cJSON_IsString(schema) || strcmp(schema->valuestring, "loupe.lens/1") != 0)
        return error_set(r->error, LOUPE_ERROR_FORMAT, "%s: schema: expected \"loupe.lens/1\" (a loupe lens --format json document)",
                         r->name);
    loupe_status status = read_model(r, root, saved);
    if (status == LOUPE_OK) status = read_options(r, root, saved);
    if (status != LOUPE_OK) return status;
    long full_rows = loupe_lens_row_count_with(saved->info.n_layer, saved->subblocks, saved->contributions);
    /* a lens made with --window may be longer than the context */
    status = get_window(r, root, "positions", INT32_MAX - 1, &saved->position_first, &saved->position_end);
    if (status == LOUPE_OK) status = get_window(r, root, "rows", full_rows, &saved->row_first, &saved->row_end);
    if (status != LOUPE_OK) return status;
    int n_rows = saved->row_end - saved->row_first, n_positions = saved->position_end - saved->position_first;
    /* every array must hold as many items as the windows say: no allocation
     * is larger than what the document itself spells out */
    const cJSON *tokens = cJSON_GetObjectItemCaseSensitive(root, "tokens");
    status = get_array(r, tokens, "tokens", n_positions);
    const cJSON *cells = cJSON_GetObjectItemCaseSensitive(root, "cells");
    if (status == LOUPE_OK) status = get_array(r, cells, "cells", n_rows);
    if (status == LOUPE_OK) status = allocate(r, saved, n_rows, n_positions);
    if (status == LOUPE_OK) status = read_tokens(r, root, saved, n_positions);
    if (status == LOUPE_OK) status = read_layers(r, root, saved, n_rows);
    if (status == LOUPE_OK) status = read_cells(r, root, saved, n_rows, n_positions);
    for (int j = 0; j < n_positions && status == LOUPE_OK; j++)
        if (saved->ids[j] > saved->max_id) saved->max_id = saved->ids[j];
    return status;
}

loupe_status loupe_lens_read_json(const char *text, size_t length, const char *name, loupe_lens_saved **saved_out,
                            loupe_error *error) {
    *saved_out = NULL;
    cJSON *root = NULL;
    loupe_status status = json_parse(text, length, name, &root, error);
    if (status != LOUPE_OK) return status;
    loupe_lens_saved *saved = calloc(1, sizeof *saved);
    if (saved == NULL) {
        cJSON_Delete(root);
        return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", name);
    }
    reader r = {.name = name, .error = error};
    status = read_document(&r, root, saved);
    cJSON_Delete(root);
    if (status != LOUPE_OK) {
        loupe_lens_saved_free(saved);
        return status;
    }
    *saved_out = saved;
    return LOUPE_OK;
}

void loupe_lens_saved_free(loupe_lens_saved *saved) {
    if (saved == NULL) return;
    int n_positions = saved->position_end - saved->position_first;
    int n_rows = saved->row_end - saved->row_first;
    for (int j = 0; saved->token_texts != NULL && j < n_positions; j++) free(saved->token_texts[j]);
    for (int i = 0; saved->row_names != NULL && i < n_rows; i++) free(saved->row_names[i]);
    free(saved->token_texts);
    free(saved->row_names);
    free(saved->ids);
    free(saved->cells);
    free(saved->top_ids);
    free(saved->top_probs);
    free(saved->tracked);
    free(saved->model_name);
    free(saved->model_directory);
    free(saved);
}

const loupe_lens_cell *loupe_lens_saved_cell(const loupe_lens_saved *saved, int row, int position) {
    if (row < saved->row_first || row >= saved->row_end || position < saved->position_first ||
        position >= saved->position_end)
        return NULL;
    int n_positions = saved->position_end - saved->position_first;
    return &saved->cells[(size_t)(row - saved->row_first) * (size_t)n_positions + (size_t)(position - saved->position_first)];
}
