/*
 * corpus_json_read.c - reads what the corpus plots draw back from a saved
 * loupe.corpus/1 document (docs/CORPUS.md), so that `loupe plot` redraws a
 * figure of `loupe corpus` without running the model. The document is
 * hostile until proven otherwise: every field used is checked for its type
 * and its agreement with the layers, and each failure names the file and
 * the field.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "corpus_output.h"
#include "loupe_internal.h"

/* What the checks share: the file's name for messages and the error. */
typedef struct reader {
    const char *name;
    loupe_error *error;
} reader;

/* Sets the error to "NAME: FIELD: what" (one line) and returns
 * LOUPE_ERROR_FORMAT. */
static loupe_status fail(const reader *r, const char *field, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
static loupe_status fail(const reader *r, const char *field, const char *format, ...) {
    char what[256];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(what, sizeof what, format, arguments);
    va_end(arguments);
    return error_set(r->error, LOUPE_ERROR_FORMAT, "%s: %s: %s", r->name, field, what);
}

/* The member key of object as the kind expected (cJSON_IsObject etc.). */
static loupe_status get(const reader *r, const cJSON *object, const char *key, const char *field,
                        cJSON_bool (*is_kind)(const cJSON *), const char *kind, const cJSON **item) {
    *item = cJSON_GetObjectItemCaseSensitive(object, key);
    if (!is_kind(*item)) return fail(r, field, "expected %s, got %s", kind, json_type_name(*item));
    return LOUPE_OK;
}

/* An array member of exactly count items. */
static loupe_status get_rows(const reader *r, const cJSON *object, const char *key, const char *field, int count,
                             const cJSON **item) {
    loupe_status status = get(r, object, key, field, cJSON_IsArray, "an array", item);
    if (status != LOUPE_OK) return status;
    int size = cJSON_GetArraySize(*item);
    if (size != count) return fail(r, field, "expected %d items (one per layer), got %d", count, size);
    return LOUPE_OK;
}

/* A number or null (NAN) into *value; with unit, within 0 .. 1. */
static loupe_status number_or_null(const reader *r, const cJSON *item, const char *field, bool unit,
                                   double *value) {
    if (cJSON_IsNull(item)) {
        *value = NAN;
        return LOUPE_OK;
    }
    if (!cJSON_IsNumber(item)) return fail(r, field, "expected a number or null, got %s", json_type_name(item));
    *value = item->valuedouble;
    if (!isfinite(*value) || (unit && !(*value >= 0.0 && *value <= 1.0)))
        return fail(r, field, "expected %s, got %.17g", unit ? "a fraction in 0 .. 1" : "a finite number", *value);
    return LOUPE_OK;
}

/* A whole number in 0 .. 2^53 into *value. */
static loupe_status count_of(const reader *r, const cJSON *item, const char *field, int64_t *value) {
    if (!cJSON_IsNumber(item)) return fail(r, field, "expected a whole number, got %s", json_type_name(item));
    double number = item->valuedouble;
    if (!(number >= 0.0 && number <= 9007199254740992.0) || floor(number) != number)
        return fail(r, field, "expected a whole number from 0, got %.17g", number);
    *value = (int64_t)number;
    return LOUPE_OK;
}

/* summaries: R summary objects; their median (and p10, p90 when low is not
 * NULL) into the arrays (R each). */
static loupe_status read_summaries(const reader *r, const cJSON *summaries, const char *field, int R,
                                   double *median, double *low, double *high) {
    char where[160];
    for (int row = 0; row < R; row++) {
        const cJSON *summary = cJSON_GetArrayItem(summaries, row);
        snprintf(where, sizeof where, "%s[%d]", field, row);
        if (!cJSON_IsObject(summary)) return fail(r, where, "expected an object, got %s", json_type_name(summary));
        const char *keys[] = {"median", "p10", "p90"};
        double *into[] = {median + row, low ? low + row : NULL, high ? high + row : NULL};
        for (int k = 0; k < 3; k++) {
            if (into[k] == NULL) continue;
            char key_field[192];
            snprintf(key_field, sizeof key_field, "%s.%s", where, keys[k]);
            loupe_status status = number_or_null(r, cJSON_GetObjectItemCaseSensitive(summary, keys[k]), key_field,
                                                 false, into[k]);
            if (status != LOUPE_OK) return status;
        }
    }
    return LOUPE_OK;
}

/* "layers": 1 .. CORPUS_PLOT_MAX_ROWS names of at most 31 bytes. */
static loupe_status read_layers(const reader *r, const cJSON *root, int *n_rows) {
    const cJSON *layers;
    loupe_status status = get(r, root, "layers", "layers", cJSON_IsArray, "an array", &layers);
    if (status != LOUPE_OK) return status;
    int size = cJSON_GetArraySize(layers);
    if (size < 1 || size > CORPUS_PLOT_MAX_ROWS)
        return fail(r, "layers", "expected 1 .. %d names, got %d", CORPUS_PLOT_MAX_ROWS, size);
    *n_rows = size;
    return LOUPE_OK;
}

/* The fields after the layers' count is known. */
static loupe_status read_fields(const reader *r, const cJSON *root, corpus_plot_data *data) {
    int R = data->n_rows;
    char field[160];
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(root, "layers");
    for (int row = 0; row < R; row++) {
        const cJSON *name = cJSON_GetArrayItem(layers, row);
        snprintf(field, sizeof field, "layers[%d]", row);
        if (!cJSON_IsString(name)) return fail(r, field, "expected a string, got %s", json_type_name(name));
        if (strlen(name->valuestring) >= sizeof data->row_names[0])
            return fail(r, field, "a name of %zu bytes, more than %zu", strlen(name->valuestring),
                        sizeof data->row_names[0] - 1);
        strcpy(data->row_names[row], name->valuestring);
    }
    const cJSON *item, *model, *corpus;
    loupe_status status = get(r, root, "partial", "partial", cJSON_IsBool, "true or false", &item);
    if (status != LOUPE_OK) return status;
    data->partial = cJSON_IsTrue(item);
    if ((status = get(r, root, "model", "model", cJSON_IsObject, "an object", &model)) != LOUPE_OK ||
        (status = get(r, model, "name", "model.name", cJSON_IsString, "a string", &item)) != LOUPE_OK)
        return status;
    if (strlen(item->valuestring) >= sizeof data->model_name)
        return fail(r, "model.name", "a string of %zu bytes, more than %zu", strlen(item->valuestring),
                    sizeof data->model_name - 1);
    strcpy(data->model_name, item->valuestring);
    if ((status = get(r, root, "corpus", "corpus", cJSON_IsObject, "an object", &corpus)) != LOUPE_OK ||
        (status = count_of(r, cJSON_GetObjectItemCaseSensitive(corpus, "positions"), "corpus.positions",
                           &data->positions)) != LOUPE_OK)
        return status;

    const cJSON *metrics;
    if ((status = get(r, root, "metrics", "metrics", cJSON_IsObject, "an object", &metrics)) != LOUPE_OK)
        return status;
    for (int m = 0; m < CORPUS_PLOT_METRICS; m++) {
        const char *metric = corpus_plot_metric_keys[m];
        const cJSON *summaries;
        snprintf(field, sizeof field, "metrics.%s", metric);
        if ((status = get_rows(r, metrics, metric, field, R, &summaries)) != LOUPE_OK ||
            (status = read_summaries(r, summaries, field, R, data->median + (size_t)m * R,
                                     data->p10 + (size_t)m * R, data->p90 + (size_t)m * R)) != LOUPE_OK)
            return status;
    }
    const char *fraction_keys[] = {"top1_is_final_top1", "top1_is_target"};
    double *fractions[] = {data->top1_final, data->top1_target};
    for (int f = 0; f < 2; f++) {
        const cJSON *values;
        if ((status = get_rows(r, root, fraction_keys[f], fraction_keys[f], R, &values)) != LOUPE_OK) return status;
        for (int row = 0; row < R; row++) {
            snprintf(field, sizeof field, "%s[%d]", fraction_keys[f], row);
            if ((status = number_or_null(r, cJSON_GetArrayItem(values, row), field, true, &fractions[f][row])) !=
                LOUPE_OK)
                return status;
        }
    }

    /* the rarity chart: the non-empty buckets among the first CORPUS_PLOT_MAX_BUCKETS */
    const cJSON *rarity = cJSON_GetObjectItemCaseSensitive(root, "rarity"), *buckets;
    if (cJSON_IsNull(rarity)) return LOUPE_OK;
    if ((status = get(r, root, "rarity", "rarity", cJSON_IsObject, "an object or null", &rarity)) != LOUPE_OK ||
        (status = get(r, rarity, "buckets", "rarity.buckets", cJSON_IsArray, "an array", &buckets)) != LOUPE_OK)
        return status;
    int n_buckets = cJSON_GetArraySize(buckets);
    if (n_buckets > CORPUS_PLOT_MAX_BUCKETS) n_buckets = CORPUS_PLOT_MAX_BUCKETS;
    for (int b = 0; b < n_buckets; b++) {
        const cJSON *bucket = cJSON_GetArrayItem(buckets, b), *ranks;
        snprintf(field, sizeof field, "rarity.buckets[%d]", b);
        if (!cJSON_IsObject(bucket)) return fail(r, field, "expected an object, got %s", json_type_name(bucket));
        int at = data->n_buckets;
        char member[192];
        snprintf(member, sizeof member, "%s.positions", field);
        if ((status = count_of(r, cJSON_GetObjectItemCaseSensitive(bucket, "positions"), member,
                               &data->bucket_positions[at])) != LOUPE_OK)
            return status;
        const char *edge_keys[] = {"low", "high"};
        double *edges[] = {&data->bucket_low[at], &data->bucket_high[at]};
        for (int e = 0; e < 2; e++) {
            snprintf(member, sizeof member, "%s.%s", field, edge_keys[e]);
            const cJSON *edge = cJSON_GetObjectItemCaseSensitive(bucket, edge_keys[e]);
            if (!cJSON_IsNumber(edge) || !isfinite(edge->valuedouble))
                return fail(r, member, "expected a finite number, got %s", json_type_name(edge));
            *edges[e] = edge->valuedouble;
        }
        snprintf(member, sizeof member, "%s.input_rank", field);
        if ((status = get_rows(r, bucket, "input_rank", member, R, &ranks)) != LOUPE_OK ||
            (status = read_summaries(r, ranks, member, R, data->bucket_input_rank + (size_t)at * R, NULL, NULL)) !=
                LOUPE_OK)
            return status;
        if (data->bucket_positions[at] > 0) data->n_buckets++; /* an empty bucket draws no line */
    }
    return LOUPE_OK;
}

/* The schema string of a parsed document, or NULL. */
static const char *schema_of(const cJSON *root) {
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(root, "schema");
    return cJSON_IsString(schema) ? schema->valuestring : NULL;
}

bool corpus_json_is_corpus(const char *text, size_t length) {
    cJSON *root = cJSON_ParseWithLength(text, length);
    const char *schema = cJSON_IsObject(root) ? schema_of(root) : NULL;
    bool is_corpus = schema != NULL && strcmp(schema, "loupe.corpus/1") == 0;
    cJSON_Delete(root);
    return is_corpus;
}

loupe_status corpus_json_read(const char *text, size_t length, const char *name, corpus_plot_data **data,
                              loupe_error *error) {
    *data = NULL;
    reader r = {name, error};
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, length, &end, false);
    if (root == NULL) {
        size_t offset = end != NULL && end >= text ? (size_t)(end - text) : 0;
        if (error != NULL) {
            error->status = LOUPE_ERROR_FORMAT;
            snprintf(error->message, sizeof error->message, "%s: invalid JSON at byte offset %zu", name, offset);
        }
        return LOUPE_ERROR_FORMAT;
    }
    loupe_status status = LOUPE_OK;
    const char *schema = cJSON_IsObject(root) ? schema_of(root) : NULL;
    int n_rows = 0;
    if (!cJSON_IsObject(root)) status = fail(&r, "the document", "expected an object, got %s", json_type_name(root));
    else if (schema == NULL || strcmp(schema, "loupe.corpus/1") != 0)
        status = fail(&r, "schema", "expected \"loupe.corpus/1\" (a loupe corpus --format json document)");
    else status = read_layers(&r, root, &n_rows);
    if (status == LOUPE_OK) {
        *data = corpus_plot_data_create(n_rows);
        if (*data == NULL) {
            status = LOUPE_ERROR_MEMORY;
            if (error != NULL) {
                error->status = status;
                snprintf(error->message, sizeof error->message, "%s: out of memory", name);
            }
        } else {
            status = read_fields(&r, root, *data);
        }
    }
    cJSON_Delete(root);
    if (status != LOUPE_OK) {
        corpus_plot_data_free(*data);
        *data = NULL;
    }
    if (status == LOUPE_OK && error != NULL) {
        error->status = LOUPE_OK;
        error->message[0] = '\0';
    }
    return status;
}
