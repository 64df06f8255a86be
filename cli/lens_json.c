/*
 * lens_json.c - the lens as one JSON document, schema "loupe.lens/1"
 * (docs/LENS_JSON.md). Floats are printed with %.9g, which round-trips a
 * float32; a non-finite float (never produced from finite logits) is null.
 */
#include <math.h>
#include <string.h>

#include "cli.h"
#include "lens_output.h"

static void write_float(FILE *out, double value) {
    if (isfinite(value)) fprintf(out, "%.9g", value);
    else fputs("null", out);
}

/* A C string as a JSON string. */
static void write_string(FILE *out, const char *s) { cli_json_string(out, s, strlen(s)); }

/* {"id": .., "prob": .., "logit": .., "rank": ..}, the logit left out when
 * with_logit is false. */
static void write_token(FILE *out, const loupe_lens_token *token, bool with_logit) {
    fprintf(out, "{\"id\": %d, \"prob\": ", token->id);
    write_float(out, token->prob);
    if (with_logit) {
        fputs(", \"logit\": ", out);
        write_float(out, token->logit);
    }
    fprintf(out, ", \"rank\": %d}", token->rank);
}

static void write_cell(FILE *out, const loupe_lens_cell *cell) {
    fputs("{\"top\": [", out);
    for (int k = 0; k < cell->n_top; k++) {
        fprintf(out, "%s[%d, ", k ? ", " : "", cell->top_ids[k]);
        write_float(out, cell->top_probs[k]);
        fputc(']', out);
    }
    fputc(']', out);
    if (cell->target.id >= 0) {
        fputs(", \"target\": ", out);
        write_token(out, &cell->target, true);
    }
    fputs(", \"input\": ", out);
    write_token(out, &cell->input, true);
    fputs(", \"final_top\": ", out);
    write_token(out, &cell->final_top, true);
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
            write_token(out, &cell->tracked[k], true);
        }
        fputc(']', out);
    }
    fputc('}', out);
}

/* ', "track": [ids]' when the cells hold tracked tokens (--track); nothing
 * otherwise. Every cell tracks the same tokens, so any cell tells. */
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
    cli_json_string(out, directory + start, end - start);
}

void lens_json_print(FILE *out, const lens_view *view) {
    const loupe_model_info *info = view->info;
    fputs("{\"schema\": \"loupe.lens/1\",\n \"model\": {\"name\": ", out);
    write_basename(out, info->directory);
    fputs(", \"directory\": ", out);
    write_string(out, info->directory);
    fprintf(out, ", \"n_layer\": %d, \"n_embd\": %d, \"n_head\": %d, \"n_vocab\": %d, \"n_ctx\": %d},\n", info->n_layer,
            info->n_embd, info->n_head, info->n_vocab, info->n_ctx);
    fprintf(out, " \"options\": {\"topk\": %d, \"subblocks\": %s", view->topk, view->subblocks ? "true" : "false");
    if (view->contributions) fputs(", \"contributions\": true", out);
    write_track_option(out, lens_view_cell(view, view->rows.first, view->positions.first));
    fputs("},\n", out);
    fprintf(out, " \"positions\": [%d, %d], \"rows\": [%d, %d],\n \"tokens\": [", view->positions.first,
            view->positions.end, view->rows.first, view->rows.end);
    for (int t = view->positions.first; t < view->positions.end; t++) {
        size_t length = 0;
        const char *bytes = loupe_tokenizer_token_bytes(view->tokenizer, lens_view_input_id(view, t), &length);
        fprintf(out, "%s{\"id\": %d, \"text\": ", t > view->positions.first ? ", " : "", lens_view_input_id(view, t));
        cli_json_string(out, bytes ? bytes : "", length);
        fputc('}', out);
    }
    fputs("],\n \"layers\": [", out);
    for (int row = view->rows.first; row < view->rows.end; row++) {
        if (row > view->rows.first) fputs(", ", out);
        write_string(out, lens_view_row_name(view, row));
    }
    fputs("],\n \"cells\": [", out);
    for (int row = view->rows.first; row < view->rows.end; row++) {
        fputs(row > view->rows.first ? ",\n  [" : "\n  [", out);
        for (int t = view->positions.first; t < view->positions.end; t++) {
            if (t > view->positions.first) fputs(",\n   ", out);
            write_cell(out, lens_view_cell(view, row, t));
        }
        fputc(']', out);
    }
    fputs("]}\n", out);
}
