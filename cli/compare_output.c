/*
 * compare_output.c - `loupe compare` as a terminal table and as JSON,
 * schema "loupe.compare/1": {"schema", "models": {"a": {...}, "b": {...}},
 * "options": {"subblocks"}, "tokens": [{"id", "text"}], "layers": [...],
 * "cells": [row][position] {"kl_ab", "kl_ba", "target": {"id", "prob_a",
 * "prob_b", "prob_diff", "rank_a", "rank_b", "rank_diff"} (absent at the
 * last position), "top_a": {"id", "prob"}, "top_b": {"id", "prob"}}}.
 * Differences are B - A. Floats with %.9g (they round-trip a float32).
 */
#include <math.h>
#include <string.h>

#include "cli.h"
#include "compare_output.h"
#include "lens_output.h"

enum { COMPARE_LABEL_CAPACITY = 64, COMPARE_TOKEN_WIDTH = 10 };

static void write_float(FILE *out, double value) {
    if (isfinite(value)) fprintf(out, "%.9g", value);
    else fputs("null", out);
}

/* The last component of a folder path, as a JSON string. */
static void write_basename(FILE *out, const char *directory) {
    size_t end = strlen(directory);
    while (end > 1 && directory[end - 1] == '/') end--;
    size_t start = end;
    while (start > 0 && directory[start - 1] != '/') start--;
    cli_json_string(out, directory + start, end - start);
}

static void write_model(FILE *out, const char *key, const loupe_model_info *info) {
    fprintf(out, "\"%s\": {\"name\": ", key);
    write_basename(out, info->directory);
    fputs(", \"directory\": ", out);
    cli_json_string(out, info->directory, strlen(info->directory));
    fprintf(out, ", \"activation\": ");
    cli_json_string(out, info->activation, strlen(info->activation));
    fputc('}', out);
}

static void write_cell(FILE *out, const loupe_compare_cell *cell) {
    fputs("{\"kl_ab\": ", out);
    write_float(out, cell->kl_ab);
    fputs(", \"kl_ba\": ", out);
    write_float(out, cell->kl_ba);
    if (cell->target_a.id >= 0) {
        fprintf(out, ", \"target\": {\"id\": %d, \"prob_a\": ", cell->target_a.id);
        write_float(out, cell->target_a.prob);
        fputs(", \"prob_b\": ", out);
        write_float(out, cell->target_b.prob);
        fputs(", \"prob_diff\": ", out);
        write_float(out, (double)cell->target_b.prob - cell->target_a.prob);
        fprintf(out, ", \"rank_a\": %d, \"rank_b\": %d, \"rank_diff\": %d}", cell->target_a.rank, cell->target_b.rank,
                cell->target_b.rank - cell->target_a.rank);
    }
    fprintf(out, ", \"top_a\": {\"id\": %d, \"prob\": ", cell->top_a.id);
    write_float(out, cell->top_a.prob);
    fprintf(out, "}, \"top_b\": {\"id\": %d, \"prob\": ", cell->top_b.id);
    write_float(out, cell->top_b.prob);
    fputs("}}", out);
}

void compare_json_print(FILE *out, const compare_view *view) {
    const loupe_compare_result *result = view->result;
    const int R = loupe_compare_n_rows(result), T = loupe_compare_n_positions(result);
    const int32_t *ids = loupe_compare_ids(result);
    fputs("{\"schema\": \"loupe.compare/1\",\n \"models\": {", out);
    write_model(out, "a", view->info_a);
    fputs(", ", out);
    write_model(out, "b", view->info_b);
    fprintf(out, "},\n \"options\": {\"subblocks\": %s},\n \"tokens\": [", view->subblocks ? "true" : "false");
    for (int t = 0; t < T; t++) {
        size_t length = 0;
        const char *bytes = loupe_tokenizer_token_bytes(view->tokenizer, ids[t], &length);
        fprintf(out, "%s{\"id\": %d, \"text\": ", t ? ", " : "", ids[t]);
        cli_json_string(out, bytes ? bytes : "", length);
        fputc('}', out);
    }
    fputs("],\n \"layers\": [", out);
    for (int r = 0; r < R; r++) {
        const char *name = loupe_compare_row_name(result, r);
        fputs(r ? ", " : "", out);
        cli_json_string(out, name, strlen(name));
    }
    fputs("],\n \"cells\": [", out);
    for (int r = 0; r < R; r++) {
        fputs(r ? ",\n  [" : "\n  [", out);
        for (int t = 0; t < T; t++) {
            if (t) fputs(",\n   ", out);
            write_cell(out, loupe_compare_cell_at(result, r, t));
        }
        fputc(']', out);
    }
    fputs("]}\n", out);
}

/* Writes text padded with spaces to `width` terminal columns. */
static void write_padded(FILE *out, const char *text, int width) {
    fputs(text, out);
    for (int pad = width - lens_text_width(text); pad > 0; pad--) fputc(' ', out);
}

void compare_table_print(FILE *out, const compare_view *view) {
    const loupe_compare_result *result = view->result;
    const int R = loupe_compare_n_rows(result), T = loupe_compare_n_positions(result);
    const int32_t *ids = loupe_compare_ids(result);
    fprintf(out, "KL(A || B) in nats, A = %s, B = %s; * where the top-1 tokens differ\n", view->info_a->directory,
            view->info_b->directory);
    int name_width = 0;
    for (int r = 0; r < R; r++) {
        int width = lens_text_width(loupe_compare_row_name(result, r));
        if (width > name_width) name_width = width;
    }
    write_padded(out, "", name_width + 1);
    for (int t = 0; t < T; t++) {
        char rendered[4 * COMPARE_LABEL_CAPACITY], label[COMPARE_LABEL_CAPACITY];
        loupe_tokenizer_render(view->tokenizer, ids[t], rendered, sizeof rendered);
        lens_text_fit(rendered, COMPARE_TOKEN_WIDTH, label, sizeof label);
        fputc(' ', out);
        write_padded(out, label, t + 1 < T ? COMPARE_TOKEN_WIDTH : 0);
    }
    fputc('\n', out);
    for (int r = R - 1; r >= 0; r--) {
        write_padded(out, loupe_compare_row_name(result, r), name_width + 1);
        for (int t = 0; t < T; t++) {
            const loupe_compare_cell *cell = loupe_compare_cell_at(result, r, t);
            char value[32];
            snprintf(value, sizeof value, "%.3g%s", cell->kl_ab, cell->top_a.id != cell->top_b.id ? "*" : "");
            fputc(' ', out);
            write_padded(out, value, t + 1 < T ? COMPARE_TOKEN_WIDTH : 0);
        }
        fputc('\n', out);
    }
}
