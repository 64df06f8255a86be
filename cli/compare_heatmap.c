/*
 * compare_heatmap.c - the heatmap of `loupe compare --plot`: one line per
 * lens row (the last at the top), one column per position, each cell
 * coloured by KL(A || B) from 0 (dark) to the largest value (bright) and
 * labelled with A's top-1 token, "A / B" where B's top-1 differs; the input
 * tokens along the bottom, a colour bar and a title naming both models.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compare_output.h"
#include "loupe_internal.h"
#include "plot.h"

static const plot_font cell_font = {11.0, false};
static const plot_font title_font = {14.0, true};
static const plot_font caption_font = {10.0, false};
static const lens_rgb black = {0, 0, 0}, white = {255, 255, 255}, grey = {0x55, 0x55, 0x55};

enum { COMPARE_BAR_STEPS = 96 };

typedef struct compare_plot {
    const compare_view *view;
    plot_format format;
    double dpi;
    const char *path;
} compare_plot;

/* A's top-1, or "A / B" where the top-1s differ, into buffer (2 labels). */
static char *cell_label(const compare_view *view, const loupe_compare_cell *cell, char *buffer, size_t capacity) {
    lens_view tokens = {.tokenizer = view->tokenizer};
    char a[PLOT_LABEL_CAPACITY], b[PLOT_LABEL_CAPACITY];
    plot_token_label(&tokens, cell->top_a.id, a);
    if (cell->top_a.id == cell->top_b.id)
        snprintf(buffer, capacity, "%s", a);
    else
        snprintf(buffer, capacity, "%s / %s", a, plot_token_label(&tokens, cell->top_b.id, b));
    return buffer;
}

static loupe_status draw(FILE *out, const void *context, loupe_error *error) {
    const compare_plot *plot = context;
    const compare_view *view = plot->view;
    const loupe_compare_result *result = view->result;
    const int R = loupe_compare_n_rows(result), T = loupe_compare_n_positions(result);
    const int32_t *ids = loupe_compare_ids(result);
    lens_view tokens = {.tokenizer = view->tokenizer};
    double *left = malloc((size_t)(T + 1) * sizeof *left);
    if (left == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for the heatmap");
    char label[2 * PLOT_LABEL_CAPACITY + 4], title[PLOT_TITLE_CAPACITY], caption[PLOT_TITLE_CAPACITY];
    double max_kl = 0.0, name_width = 0.0;
    for (int r = 0; r < R; r++) {
        double width = plot_text_width(loupe_compare_row_name(result, r), cell_font);
        if (width > name_width) name_width = width;
        for (int t = 0; t < T; t++)
            if (loupe_compare_cell_at(result, r, t)->kl_ab > max_kl) max_kl = loupe_compare_cell_at(result, r, t)->kl_ab;
    }
    const double margin = 14.0, cell_height = 20.0, grid_left = margin + name_width + 10.0, grid_top = margin + 30.0;
    left[0] = grid_left;
    for (int t = 0; t < T; t++) {
        double width = plot_text_width(plot_token_label(&tokens, ids[t], label), cell_font);
        for (int r = 0; r < R; r++) {
            double cell = plot_text_width(cell_label(view, loupe_compare_cell_at(result, r, t), label, sizeof label),
                                          cell_font);
            if (cell > width) width = cell;
        }
        left[t + 1] = left[t] + (width + 10.0 > 28.0 ? width + 10.0 : 28.0);
    }
    char name_a[128], name_b[128];
    snprintf(title, sizeof title, "KL(A || B) of the lens rows, A = %s, B = %s",
             plot_model_name(view->info_a->directory, name_a, sizeof name_a),
             plot_model_name(view->info_b->directory, name_b, sizeof name_b));
    snprintf(caption, sizeof caption, "colour: KL(A || B) in nats, from 0 to %.3g; cells: A's top-1 (A / B where they differ)",
             max_kl);
    const double grid_bottom = grid_top + R * cell_height, bar_top = grid_bottom + 50.0, bar_width = 300.0;
    double width = left[T] + margin;
    double text_width = margin * 2 + plot_text_width(title, title_font);
    if (text_width > width) width = text_width;
    text_width = grid_left + plot_text_width(caption, caption_font) + margin;
    if (text_width > width) width = text_width;
    if (grid_left + bar_width + margin > width) width = grid_left + bar_width + margin;
    const double height = bar_top + 12.0 + 30.0 + margin;
    plot_canvas *canvas = plot_canvas_create(plot->format, out, plot->path, width, height, plot->dpi, true, title, error);
    if (canvas == NULL) {
        free(left);
        return error->status;
    }
    plot_canvas_text(canvas, margin, margin + 10.0, title, title_font, PLOT_ANCHOR_START, black);
    for (int line = 0; line < R; line++) {
        int r = R - 1 - line;
        double y = grid_top + line * cell_height;
        plot_canvas_text(canvas, grid_left - 8.0, y + cell_height / 2, loupe_compare_row_name(result, r), cell_font,
                         PLOT_ANCHOR_END, black);
        for (int t = 0; t < T; t++) {
            const loupe_compare_cell *cell = loupe_compare_cell_at(result, r, t);
            char value[32];
            snprintf(value, sizeof value, "%.3g", cell->kl_ab);
            const char *names[] = {"layer", "token", "kl_ab"};
            const char *values[] = {loupe_compare_row_name(result, r), cell_label(view, cell, label, sizeof label),
                                    value};
            plot_canvas_group_begin(canvas, "cell", names, values, 3, NULL);
            lens_rgb fill = lens_colour_ramp(max_kl > 0.0 ? cell->kl_ab / max_kl : 0.0);
            plot_canvas_rect(canvas, left[t], y, left[t + 1] - left[t] - 1.0, cell_height - 1.0, fill);
            plot_canvas_text(canvas, (left[t] + left[t + 1] - 1.0) / 2, y + (cell_height - 1.0) / 2, label, cell_font,
                             PLOT_ANCHOR_MIDDLE, lens_colour_black_text_on(fill) ? black : white);
            plot_canvas_group_end(canvas);
        }
    }
    for (int t = 0; t < T; t++)
        plot_canvas_text(canvas, (left[t] + left[t + 1] - 1.0) / 2, grid_bottom + 10.0,
                         plot_token_label(&tokens, ids[t], label), cell_font, PLOT_ANCHOR_MIDDLE, black);
    plot_canvas_text(canvas, grid_left, bar_top - 12.0, caption, caption_font, PLOT_ANCHOR_START, black);
    double step = bar_width / COMPARE_BAR_STEPS;
    for (int i = 0; i < COMPARE_BAR_STEPS; i++)
        plot_canvas_rect(canvas, grid_left + i * step, bar_top, step + 0.5, 12.0,
                         lens_colour_ramp((i + 0.5) / COMPARE_BAR_STEPS));
    plot_canvas_frame(canvas, grid_left, bar_top, bar_width, 12.0, grey, 0.5);
    char end[32];
    snprintf(end, sizeof end, "%.3g", max_kl);
    plot_canvas_text(canvas, grid_left, bar_top + 22.0, "0", caption_font, PLOT_ANCHOR_MIDDLE, black);
    plot_canvas_text(canvas, grid_left + bar_width, bar_top + 22.0, end, caption_font, PLOT_ANCHOR_MIDDLE, black);
    free(left);
    return plot_canvas_finish(canvas, error);
}

loupe_status compare_heatmap_write(const compare_view *view, const char *path, double dpi, loupe_error *error) {
    compare_plot plot = {.view = view, .dpi = dpi, .path = path};
    if (!plot_format_for_path(path, &plot.format) || plot.format == PLOT_FORMAT_HTML)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "%s: the file name must end in .png or .svg", path);
    return file_replace(path, draw, &plot, error);
}
