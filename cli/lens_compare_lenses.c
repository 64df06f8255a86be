/*
 * lens_compare_lenses.c - `loupe lens --tuned LENSDIR --compare-lenses`:
 * the logit lens and the tuned lens of one text side by side per layer, as
 * a table or as JSON "loupe.lens_compare/1" (docs/TUNED_LENS.md).
 *
 * Per layer, over the positions shown that have a next token: each lens's
 * mean cross-entropy of the next token and mean KL(final || layer), how
 * often its top-1 is the true next token, how often the two lenses' top-1s
 * agree; and at the last position shown, each lens's top-1 with its
 * probability (what the layer predicts after the whole text).
 *
 * Shapes: R rows, the same in both lenses; positions [first, end).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "lens_output.h"

enum { COMPARE_TOKEN_WIDTH = 14 };

/* One layer of the comparison; NaN where no position has a next token. */
typedef struct layer_comparison {
    int scored;                 /* positions with a next token */
    double ce[2];               /* mean -log p(target), nats: [0] logit, [1] tuned */
    double kl_final[2];         /* mean KL(final || layer) */
    double top1_target[2];      /* fraction of positions whose top-1 is the next token */
    double top1_agree;          /* fraction of positions where the two top-1s are the same token */
    int32_t last_top[2];        /* top-1 at the last position shown */
    double last_prob[2];        /* its probability */
} layer_comparison;

/* The comparison of one row of the two lenses over the positions shown. */
static layer_comparison compare_row(const lens_view *const views[2], int row) {
    layer_comparison c = {0};
    double agree = 0.0;
    for (int t = views[0]->positions.first; t < views[0]->positions.end; t++) {
        if (lens_view_next_id(views[0], t) < 0) continue;
        const loupe_lens_cell *a = lens_view_cell(views[0], row, t), *b = lens_view_cell(views[1], row, t);
        c.scored++;
        agree += a->top_ids[0] == b->top_ids[0];
        const loupe_lens_cell *cells[2] = {a, b};
        for (int k = 0; k < 2; k++) {
            c.ce[k] -= cells[k]->target.log_prob;
            c.kl_final[k] += cells[k]->kl_final;
            c.top1_target[k] += cells[k]->top_ids[0] == cells[k]->target.id;
        }
    }
    double n = c.scored > 0 ? (double)c.scored : NAN;
    for (int k = 0; k < 2; k++) {
        c.ce[k] /= n;
        c.kl_final[k] /= n;
        c.top1_target[k] /= n;
        const loupe_lens_cell *last = lens_view_cell(views[k], row, views[k]->positions.end - 1);
        c.last_top[k] = last->top_ids[0];
        c.last_prob[k] = last->top_probs[0];
    }
    c.top1_agree = agree / n;
    return c;
}

/* A number in 8 columns, "-" when undefined. */
static const char *format_number(double value, char *buffer, size_t capacity) {
    if (isfinite(value)) snprintf(buffer, capacity, "%.4g", value);
    else snprintf(buffer, capacity, "-");
    return buffer;
}

/* Writes text padded with spaces to `width` terminal columns. */
static void write_padded(FILE *out, const char *text, int width) {
    fputs(text, out);
    for (int pad = width - lens_text_width(text); pad > 0; pad--) fputc(' ', out);
}

/* A token rendered and fitted to the column, with its probability. */
static void write_prediction(FILE *out, const lens_view *view, int32_t id, double prob) {
    char rendered[256], label[64], cell[96];
    loupe_tokenizer_render(view->tokenizer, id, rendered, sizeof rendered);
    lens_text_fit(rendered, COMPARE_TOKEN_WIDTH - 5, label, sizeof label);
    snprintf(cell, sizeof cell, "%s %.2f", label, prob);
    write_padded(out, cell, COMPARE_TOKEN_WIDTH);
}

static void print_table(FILE *out, const lens_view *const views[2]) {
    const lens_view *view = views[1];
    fprintf(out,
            "the logit lens beside the tuned lens of %s, per layer, over positions %d .. %d\n"
            "(CE: mean cross-entropy of the next token, nats; diff: tuned - logit, below 0 where the tuned lens\n"
            "predicts better; agree: positions where both lenses have the same top-1; next: each lens's top-1\n"
            "after position %d, with its probability)\n\n",
            view->tuned_directory, view->positions.first, view->positions.end - 1, view->positions.end - 1);
    fprintf(out, "%-8s | %-26s | %-17s | %-17s | %6s | %-*s %-*s\n", "", "CE (nats)", "KL(final||layer)",
            "top1=target", "", COMPARE_TOKEN_WIDTH, "next: logit", COMPARE_TOKEN_WIDTH, "tuned");
    fprintf(out, "%-8s | %8s %8s %8s | %8s %8s | %8s %8s | %6s |\n", "layer", "logit", "tuned", "diff", "logit",
            "tuned", "logit", "tuned", "agree");
    for (int row = view->rows.end - 1; row >= view->rows.first; row--) {
        layer_comparison c = compare_row(views, row);
        char v[10][32];
        fprintf(out, "%-8s | %8s %8s %8s | %8s %8s | %8s %8s | %6s | ", lens_view_row_name(view, row),
                format_number(c.ce[0], v[0], 32), format_number(c.ce[1], v[1], 32),
                format_number(c.ce[1] - c.ce[0], v[2], 32), format_number(c.kl_final[0], v[3], 32),
                format_number(c.kl_final[1], v[4], 32), format_number(c.top1_target[0], v[5], 32),
                format_number(c.top1_target[1], v[6], 32), format_number(c.top1_agree, v[7], 32));
        write_prediction(out, views[0], c.last_top[0], c.last_prob[0]);
        fputc(' ', out);
        write_prediction(out, views[1], c.last_top[1], c.last_prob[1]);
        fputc('\n', out);
    }
}

/* , "key": {"logit": values[0], "tuned": values[1]} */
static void write_json_pair(FILE *out, const char *key, const double values[2]) {
    static const char *const lenses[2] = {"logit", "tuned"};
    fprintf(out, ", \"%s\": {", key);
    for (int k = 0; k < 2; k++) {
        fprintf(out, "%s\"%s\": ", k ? ", " : "", lenses[k]);
        cli_json_number(out, values[k]);
    }
    fputc('}', out);
}

static int print_json(FILE *out, const lens_view *const views[2]) {
    const lens_view *view = views[1];
    fputs("{\"schema\": \"loupe.lens_compare/1\",\n \"tuned_directory\": ", out);
    cli_json_string(out, view->tuned_directory, strlen(view->tuned_directory));
    fputs(",\n \"per_layer\": [", out);
    for (int row = view->rows.first; row < view->rows.end; row++) {
        layer_comparison c = compare_row(views, row);
        const char *name = lens_view_row_name(view, row);
        fputs(row > view->rows.first ? ",\n  {\"layer\": " : "\n  {\"layer\": ", out);
        cli_json_string(out, name, strlen(name));
        fprintf(out, ", \"scored\": %d", c.scored);
        write_json_pair(out, "ce", c.ce);
        write_json_pair(out, "kl_final", c.kl_final);
        write_json_pair(out, "top1_is_target", c.top1_target);
        fputs(", \"top1_agree\": ", out);
        cli_json_number(out, c.top1_agree);
        fprintf(out, ", \"next\": {\"logit\": {\"id\": %d, \"prob\": ", c.last_top[0]);
        cli_json_number(out, c.last_prob[0]);
        fprintf(out, "}, \"tuned\": {\"id\": %d, \"prob\": ", c.last_top[1]);
        cli_json_number(out, c.last_prob[1]);
        fputs("}}}", out);
    }
    fputs("],\n \"logit\": ", out);
    int status = lens_json_print(out, views[0]);
    if (status == CLI_EXIT_OK) {
        fputs(",\n \"tuned\": ", out);
        status = lens_json_print(out, views[1]);
    }
    fputs("}\n", out);
    return status;
}

int lens_compare_lenses_print(FILE *out, const lens_view *logit, const lens_view *tuned, bool json) {
    const lens_view *const views[2] = {logit, tuned};
    if (json) return print_json(out, views);
    print_table(out, views);
    return CLI_EXIT_OK;
}
