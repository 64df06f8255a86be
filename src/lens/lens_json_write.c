/*
 * lens_json_write.c - a lens as one JSON document, schema "loupe.lens/1"
 * (docs/LENS_JSON.md): what `loupe lens --format json` prints and the
 * Python package's to_json returns. Floats are printed with %.9g, which
 * round-trips a float32; a non-finite float (never produced from finite
 * logits) is null.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/json.h"
#include "loupe.h"
#include "util/error.h"

static void write_float(FILE *out, double value) {
    if (isfinite(value)) fprintf(out, "%.9g", value);
    else fputs("null", out);
}

/* A C string as a JSON string. */
static void write_string(FILE *out, const char *s) { json_write_string(out, s, strlen(s)); }

/* {"id": .., "prob": .., "logit": .., "rank": ..} */
static void write_token(FILE *out, const loupe_lens_token *token) {
    fprintf(out, "{\"id\": %d, \"prob\": ", token->id);
    write_float(out, token->prob);
    fputs(", \"logit\": ", out);
    write_float(out, token->logit);
    fprintf(out, ", \"rank\": %d}", token->rank);
}

/* One cell; with precision bf16 also its bound and whether its top-1 is
 * guaranteed (docs/PRECISION.md). */
static void write_cell(FILE *out, const loupe_lens_cell *cell, loupe_precision precision) {
    fputs("{\"top\": [", out);
    for (int k = 0; k < cell->n_top; k++) {
        fprintf(out, "%s[%d, ", k ? ", " : "", cell->top_ids[k]);
        write_float(out, cell->top_probs[k]);
        fputc(']', out);
    }
    fputc(']', out);
    if (cell->target.id >= 0) {
        fputs(", \"target\": ", out);
        write_token(out, &cell->target);
    }
    fputs(", \"input\": ", out);
    write_token(out, &cell->input);
    fputs(", \"final_top\": ", out);
    write_token(out, &cell->final_top);
    const struct {
        const char *name;
        float value;
    } scalars[] = {
        {"entropy", cell->entropy},   {"kl_final", cell->kl_final}, {"kl_final_rev", cell->kl_final_rev},
        {"kl_first", cell->kl_first}, {"kl_first_rev", cell->kl_first_rev},
    };
    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++) {
        fprintf(out, ", \"%s\": ", scalars[i].name);
        write_float(out, scalars[i].value);
    }
    if (cell->attribution != NULL) {
        fputs(", \"attribution\": {", out);
        if (cell->target.id >= 0) {
            fputs("\"target\": ", out);
            write_float(out, cell->attribution->target);
            fputs(", ", out);
        }
        fputs("\"final_top\": ", out);
        write_float(out, cell->attribution->final_top);
        fputc('}', out);
    }
    if (cell->n_tracked > 0) {
        fputs(", \"tracked\": [", out);
        for (int k = 0; k < cell->n_tracked; k++) {
            if (k > 0) fputs(", ", out);
            write_token(out, &cell->tracked[k]);
        }
        fputc(']', out);
    }
    if (precision == LOUPE_PRECISION_BF16) {
        fputs(", \"logit_error_bound\": ", out);
        write_float(out, cell->logit_error_bound);
        fprintf(out, ", \"top1_guaranteed\": %s", cell->top1_guaranteed ? "true" : "false");
    }
    fputc('}', out);
}

/* ', "track": [ids]' when the cells hold tracked tokens (track_ids);
 * nothing otherwise. Every cell tracks the same tokens, so any cell tells. */
static void write_track_option(FILE *out, const loupe_lens_cell *cell) {
    if (cell->n_tracked == 0) return;
    fputs(", \"track\": [", out);
    for (int k = 0; k < cell->n_tracked; k++) fprintf(out, "%s%d", k ? ", " : "", cell->tracked[k].id);
    fputc(']', out);
}

/* The last component of a folder path, trailing slashes ignored. */
static void write_basename(FILE *out, const char *directory) {
    size_t end = strlen(directory);
    while (end > 1 && directory[end - 1] == '/') end--;
    size_t start = end;
    while (start > 0 && directory[start - 1] != '/') start--;
    json_write_string(out, directory + start, end - start);
}

/* The document of window w of result. */
static void write_document(FILE *out, const loupe_lens_result *result, const loupe_tokenizer *tokenizer,
                           const loupe_model_info *info, const loupe_lens_window *w) {
    const int32_t *ids = loupe_lens_ids(result);
    /* the run's options, told by its rows: 1 + L (1 + subblocks + 2 contributions) */
    int per_block = info->n_layer > 0 ? (loupe_lens_n_rows(result) - 1) / info->n_layer : 1;
    bool subblocks = per_block == 2 || per_block == 4, contributions = per_block >= 3;
    /* topk as asked: every cell holds min(topk, V) tokens, so with topk <= V it is n_top */
    int topk = loupe_lens_cell_at(result, 0, 0)->n_top;
    fputs("{\"schema\": \"loupe.lens/1\",\n \"model\": {\"name\": ", out);
    write_basename(out, info->directory);
    fputs(", \"directory\": ", out);
    write_string(out, info->directory);
    fprintf(out, ", \"n_layer\": %d, \"n_embd\": %d, \"n_head\": %d, \"n_vocab\": %d, \"n_ctx\": %d},\n", info->n_layer,
            info->n_embd, info->n_head, info->n_vocab, info->n_ctx);
    const loupe_precision precision = loupe_lens_precision(result);
    fprintf(out, " \"options\": {\"topk\": %d, \"subblocks\": %s, \"precision\": \"%s\"", topk,
            subblocks ? "true" : "false", precision == LOUPE_PRECISION_BF16 ? "bf16" : "f32");
    if (contributions) fputs(", \"contributions\": true", out);
    write_track_option(out, loupe_lens_cell_at(result, w->row_first, w->position_first));
    fputs("},\n", out);
    if (loupe_lens_tuned_directory(result) != NULL) {
        fputs(" \"lens\": {\"kind\": \"tuned\", \"directory\": ", out);
        write_string(out, loupe_lens_tuned_directory(result));
        fputs("},\n", out);
    }
    fprintf(out, " \"positions\": [%d, %d], \"rows\": [%d, %d],\n \"tokens\": [", w->position_first,
            w->position_end, w->row_first, w->row_end);
    for (int t = w->position_first; t < w->position_end; t++) {
        size_t length = 0;
        const char *bytes = loupe_tokenizer_token_bytes(tokenizer, ids[t], &length);
        fprintf(out, "%s{\"id\": %d, \"text\": ", t > w->position_first ? ", " : "", ids[t]);
        json_write_string(out, bytes ? bytes : "", length);
        fputc('}', out);
    }
    fputs("],\n \"layers\": [", out);
    for (int row = w->row_first; row < w->row_end; row++) {
        if (row > w->row_first) fputs(", ", out);
        write_string(out, loupe_lens_row_name(result, row));
    }
    fputs("],\n \"cells\": [", out);
    for (int row = w->row_first; row < w->row_end; row++) {
        fputs(row > w->row_first ? ",\n  [" : "\n  [", out);
        for (int t = w->position_first; t < w->position_end; t++) {
            if (t > w->position_first) fputs(",\n   ", out);
            write_cell(out, loupe_lens_cell_at(result, row, t), precision);
        }
        fputc(']', out);
    }
    fputs("]}\n", out);
}

loupe_status loupe_lens_write_json(const loupe_lens_result *result, const loupe_tokenizer *tokenizer,
                                   const loupe_model_info *info, const loupe_lens_window *window,
                                   char **text_out, size_t *length_out, loupe_error *error) {
    error_clear(error);
    *text_out = NULL;
    *length_out = 0;
    if (result == NULL || tokenizer == NULL || info == NULL)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "lens JSON: the result, tokenizer and model info must not be NULL");
    int R = loupe_lens_n_rows(result), T = loupe_lens_n_positions(result);
    loupe_lens_window whole = {0, R, 0, T};
    if (window == NULL) window = &whole;
    if (window->row_first < 0 || window->row_first >= window->row_end || window->row_end > R ||
        window->position_first < 0 || window->position_first >= window->position_end || window->position_end > T)
        return error_set(error, LOUPE_ERROR_ARGUMENT,
                         "lens JSON: rows [%d, %d) and positions [%d, %d) must be non-empty ranges within the "
                         "lens's %d rows and %d positions",
                         window->row_first, window->row_end, window->position_first, window->position_end, R, T);
    char *text = NULL;
    size_t length = 0;
    FILE *out = open_memstream(&text, &length);
    if (out == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for the lens JSON");
    write_document(out, result, tokenizer, info, window);
    bool failed = ferror(out) != 0;
    if (fclose(out) != 0 || failed || text == NULL) {
        free(text);
        return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for the lens JSON");
    }
    *text_out = text;
    *length_out = length;
    return LOUPE_OK;
}
