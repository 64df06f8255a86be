/*
 * lens_table.c - the lens as a terminal table, like the original logit lens
 * plots: one line per lens row (names at the left), one column per position
 * headed by its input token, each cell the row's top-1 token on a background
 * coloured by the metric. A marker line above the header flags the columns
 * where the model's final top-1 is the true next token. Columns that do not
 * fit the width wrap into further blocks, each with its header and names.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lens_output.h"

enum {
    TOKEN_MAX_WIDTH = 12, /* terminal columns a token may take in a cell */
    TEXT_CAPACITY = 128,  /* bytes of one cell's text: 12 columns of up to 4 bytes, a value */
    RENDER_CAPACITY = 256,
};

/* The token's readable form cut to max_width columns; returns its width. */
static int fitted_token(const lens_view *view, int32_t id, int max_width, char *buffer) {
    char rendered[RENDER_CAPACITY];
    loupe_tokenizer_render(view->tokenizer, id, rendered, sizeof rendered);
    return lens_text_fit(rendered, max_width, buffer, TEXT_CAPACITY);
}

/* A cell's text (its top-1 token, then the metric value with --values) into
 * buffer (TEXT_CAPACITY); returns its width. *has_value says whether the
 * metric is defined there, *value holds it. */
static int cell_text(const lens_view *view, const lens_table_style *style, int token_width, int row, int t,
                     char *buffer, double *value, bool *has_value) {
    const loupe_lens_cell *cell = lens_view_cell(view, row, t);
    int width = fitted_token(view, cell->top_ids[0], token_width, buffer);
    *has_value = lens_metric_value(&style->metric, view, row, t, value);
    if (style->values) {
        char number[32] = "-";
        if (*has_value) lens_metric_format(style->metric.kind, *value, number, sizeof number);
        size_t used = strlen(buffer);
        snprintf(buffer + used, TEXT_CAPACITY - used, " %s", number);
        width += 1 + (int)strlen(number);
    }
    return width;
}

static void write_spaces(FILE *out, int n) {
    for (int i = 0; i < n; i++) fputc(' ', out);
}

/* Writes " text" padded to 1 + width columns. */
static void write_padded(FILE *out, const char *text, int text_width, int width) {
    fputc(' ', out);
    fputs(text, out);
    write_spaces(out, width - text_width);
}

/* One block of columns: positions [first, end). */
static void print_block(FILE *out, const lens_view *view, const lens_table_style *style, int name_width,
                        int token_width, const int *column_widths, int first, int end) {
    char text[TEXT_CAPACITY];
    /* marker line */
    int pending = name_width; /* spaces owed; trailing ones are never written */
    for (int t = first; t < end; t++) {
        int width = column_widths[t - view->positions.first];
        if (lens_view_final_is_next(view, t)) {
            write_spaces(out, pending + 1);
            fputc('*', out);
            pending = width - 1;
        } else {
            pending += 1 + width;
        }
    }
    fputc('\n', out);
    /* header: the input tokens */
    write_spaces(out, name_width);
    for (int t = first; t < end; t++) {
        int width = fitted_token(view, lens_view_input_id(view, t), token_width, text);
        if (t + 1 < end) write_padded(out, text, width, column_widths[t - view->positions.first]);
        else fprintf(out, " %s", text);
    }
    fputc('\n', out);
    /* the rows */
    lens_scale scale = lens_scale_over_view(&style->metric, view);
    int n_shown = view->rows.end - view->rows.first;
    for (int i = 0; i < n_shown; i++) {
        int row = style->top_down ? view->rows.first + i : view->rows.end - 1 - i;
        const char *name = lens_view_row_name(view, row);
        fputs(name, out);
        write_spaces(out, name_width - (int)strlen(name));
        for (int t = first; t < end; t++) {
            double value = 0.0;
            bool has_value = false;
            int width = cell_text(view, style, token_width, row, t, text, &value, &has_value);
            int column_width = column_widths[t - view->positions.first];
            bool coloured = style->colour != LENS_COLOUR_NONE && has_value;
            if (coloured)
                lens_colour_begin(out, style->colour, lens_colour_ramp(lens_scale_position(&scale, value)));
            if (coloured || t + 1 < end) write_padded(out, text, width, column_width);
            else fprintf(out, " %s", text);
            if (coloured) lens_colour_end(out, style->colour);
        }
        fputc('\n', out);
    }
}

void lens_table_print(FILE *out, const lens_view *view, const lens_table_style *style) {
    int name_width = 0;
    for (int row = view->rows.first; row < view->rows.end; row++) {
        int length = (int)strlen(lens_view_row_name(view, row));
        if (length > name_width) name_width = length;
    }
    name_width += 1; /* an uncoloured gutter between the names and the coloured cells */
    /* a token never takes more than what is left beside the names */
    int token_width = style->width - name_width - 1;
    if (token_width > TOKEN_MAX_WIDTH) token_width = TOKEN_MAX_WIDTH;
    if (token_width < 1) token_width = 1;

    int n_columns = view->positions.end - view->positions.first;
    int *column_widths = calloc((size_t)n_columns, sizeof *column_widths);
    if (column_widths == NULL) {
        cli_error("out of memory for the table");
        return;
    }
    char text[TEXT_CAPACITY];
    for (int t = view->positions.first; t < view->positions.end; t++) {
        int *width = &column_widths[t - view->positions.first];
        *width = fitted_token(view, lens_view_input_id(view, t), token_width, text);
        for (int row = view->rows.first; row < view->rows.end; row++) {
            double value;
            bool has_value;
            int cell_width = cell_text(view, style, token_width, row, t, text, &value, &has_value);
            if (cell_width > *width) *width = cell_width;
        }
    }
    /* blocks of columns that fit the width; at least one column each */
    int available = style->width - name_width;
    for (int first = view->positions.first; first < view->positions.end;) {
        int end = first, used = 0;
        while (end < view->positions.end) {
            int need = 1 + column_widths[end - view->positions.first];
            if (end > first && used + need > available) break;
            used += need;
            end++;
        }
        if (first > view->positions.first) fputc('\n', out);
        print_block(out, view, style, name_width, token_width, column_widths, first, end);
        first = end;
    }
    free(column_widths);
}
