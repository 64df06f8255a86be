/*
 * plot_heatmap.c - the logit lens heatmap as in the original figures, drawn
 * on a plot_canvas (PNG or SVG): one row per lens row (names at the left),
 * one column per position; each cell is the row's top-1 token on the
 * metric's colour. Input tokens run along the bottom, the true next tokens
 * along the top, with a marker where the model's final top-1 is right; a
 * colour bar with its caption and a title sit below and above. Columns are
 * as wide as their longest label; a long text wraps into panels of at most
 * style->columns positions, one under the other, each with its own token
 * axes, so the picture grows down rather than past what PNG can hold.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loupe_internal.h"
#include "plot.h"

static const plot_font cell_font = {11.0, false};
static const plot_font axis_font = {11.0, false};
static const plot_font next_font = {11.0, true};
static const plot_font caption_font = {10.0, false};
static const plot_font title_font = {14.0, true};
static const lens_rgb black = {0, 0, 0}, white = {255, 255, 255}, grey = {0x55, 0x55, 0x55};

enum { BAR_STEPS = 96 };

/* Where everything goes, in pixels. */
typedef struct heatmap_layout {
    double margin, name_width, cell_height, grid_left, grid_top, grid_width, grid_height;
    double title_y, next_caption_y, next_y, marker_y, input_y, input_caption_y;
    double bar_caption_y, bar_top, bar_height, bar_width, tick_y;
    double width, height;
    double *column_left, *column_width; /* (P) */
    int panel_columns;  /* positions per panel */
    int n_panels;
    double panel_height; /* from one panel's captions to the next one's */
} heatmap_layout;

static const double cell_padding = 10.0, min_column_width = 28.0;

static int shown_rows(const lens_view *view) { return view->rows.end - view->rows.first; }
static int shown_positions(const lens_view *view) { return view->positions.end - view->positions.first; }

/* The lens row drawn on line i (0 = the top line). */
static int row_on_line(const lens_view *view, const plot_style *style, int i) {
    return style->top_down ? view->rows.first + i : view->rows.end - 1 - i;
}

static double max_double(double a, double b) { return a > b ? a : b; }

/* A cell's text into label (PLOT_LABEL_CAPACITY + 32): its top-1 token, and
 * with style->values the metric's value after it ("light .92", "-" where
 * undefined), as the table writes it. */
static char *cell_text(const lens_view *view, const plot_style *style, int row, int t, char *label) {
    plot_token_label(view, lens_view_cell(view, row, t)->top_ids[0], label);
    if (style->values) {
        char number[32] = "-";
        double value = 0.0;
        if (lens_metric_value(&style->metric, view, row, t, &value))
            lens_metric_format(style->metric.kind, value, number, sizeof number);
        size_t used = strlen(label);
        snprintf(label + used, PLOT_LABEL_CAPACITY + 32 - used, " %s", number);
    }
    return label;
}

/* How far down the panel of shown position j lies. */
static double panel_offset(const heatmap_layout *layout, int j) {
    return (j / layout->panel_columns) * layout->panel_height;
}

static loupe_status layout_heatmap(const lens_view *view, const plot_style *style, const char *title,
                                   const char *caption, heatmap_layout *layout, loupe_error *error) {
    int n_positions = shown_positions(view), n_rows = shown_rows(view);
    layout->panel_columns = style->columns > 0 ? style->columns : PLOT_DEFAULT_COLUMNS;
    layout->n_panels = (n_positions + layout->panel_columns - 1) / layout->panel_columns;
    layout->column_left = calloc((size_t)n_positions, sizeof(double));
    layout->column_width = calloc((size_t)n_positions, sizeof(double));
    if (layout->column_left == NULL || layout->column_width == NULL)
        return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for the heatmap's layout");
    char label[PLOT_LABEL_CAPACITY + 32];
    layout->margin = 14.0;
    layout->cell_height = 20.0;
    layout->name_width = 0.0;
    for (int row = view->rows.first; row < view->rows.end; row++)
        layout->name_width = max_double(layout->name_width, plot_text_width(lens_view_row_name(view, row), axis_font));
    layout->name_width += 10.0;
    layout->grid_left = layout->margin + layout->name_width;
    double x = layout->grid_left;
    layout->grid_width = 0.0;
    for (int j = 0; j < n_positions; j++) {
        if (j % layout->panel_columns == 0) x = layout->grid_left;
        int t = view->positions.first + j;
        double width = plot_text_width(plot_token_label(view, lens_view_input_id(view, t), label), axis_font);
        width = max_double(width, plot_text_width(plot_token_label(view, lens_view_next_id(view, t), label), next_font));
        for (int row = view->rows.first; row < view->rows.end; row++)
            width = max_double(width, plot_text_width(cell_text(view, style, row, t, label),
                                                      cell_font));
        layout->column_left[j] = x;
        layout->column_width[j] = max_double(width + cell_padding, min_column_width);
        x += layout->column_width[j];
        layout->grid_width = max_double(layout->grid_width, x - layout->grid_left);
    }
    layout->grid_height = n_rows * layout->cell_height;

    double y = layout->margin;
    layout->title_y = y + 10.0;
    y += 28.0;
    double panel_top = y;
    layout->next_caption_y = y + 7.0;
    y += 16.0;
    layout->next_y = y + 8.0;
    y += 16.0;
    layout->marker_y = y + 5.0;
    y += 10.0;
    layout->grid_top = y;
    y += layout->grid_height;
    layout->input_y = y + 10.0;
    y += 20.0;
    layout->input_caption_y = y + 7.0;
    y += 28.0;
    layout->panel_height = y - panel_top;
    y += (layout->n_panels - 1) * layout->panel_height;
    layout->bar_caption_y = y + 7.0;
    y += 18.0;
    layout->bar_top = y;
    layout->bar_height = 12.0;
    y += layout->bar_height + 4.0;
    layout->tick_y = y + 8.0;
    y += 18.0;
    layout->height = y + layout->margin;

    double caption_width = plot_text_width(caption, caption_font);
    layout->bar_width = layout->grid_width < 240.0 ? 240.0 : layout->grid_width > 420.0 ? 420.0 : layout->grid_width;
    double content = max_double(layout->name_width + layout->grid_width,
                                max_double(plot_text_width(title, title_font), caption_width));
    content = max_double(content, layout->name_width + layout->bar_width + 20.0);
    layout->width = 2 * layout->margin + content;
    return LOUPE_OK;
}

/* One cell: its rectangle and its top-1 token, grouped with its numbers. */
static void draw_cell(plot_canvas *canvas, const lens_view *view, const plot_style *style, const lens_scale *scale,
                      const heatmap_layout *layout, int line, int row, int j) {
    int t = view->positions.first + j;
    const loupe_lens_cell *cell = lens_view_cell(view, row, t);
    char label[PLOT_LABEL_CAPACITY], text[PLOT_LABEL_CAPACITY + 32], position[16], value_text[32] = "-", title[512];
    plot_token_label(view, cell->top_ids[0], label);
    cell_text(view, style, row, t, text);
    double value = 0.0;
    bool defined = lens_metric_value(&style->metric, view, row, t, &value);
    if (defined) lens_metric_format(style->metric.kind, value, value_text, sizeof value_text);
    snprintf(position, sizeof position, "%d", t);
    snprintf(title, sizeof title, "%s, position %d: top-1 %s (p %.3f); value %s", lens_view_row_name(view, row), t,
             label, cell->top_probs[0], value_text);
    const char *names[] = {"layer", "position", "token", "value"};
    const char *values[] = {lens_view_row_name(view, row), position, label, value_text};
    plot_canvas_group_begin(canvas, "cell", names, values, 4, title);
    lens_rgb fill = defined ? lens_colour_ramp(lens_scale_position(scale, value)) : plot_undefined_colour;
    double x = layout->column_left[j], y = layout->grid_top + panel_offset(layout, j) + line * layout->cell_height;
    plot_canvas_rect(canvas, x, y, layout->column_width[j] - 1.0, layout->cell_height - 1.0, fill);
    plot_canvas_text(canvas, x + (layout->column_width[j] - 1.0) / 2, y + (layout->cell_height - 1.0) / 2, text,
                     cell_font, PLOT_ANCHOR_MIDDLE, lens_colour_black_text_on(fill) ? black : white);
    plot_canvas_group_end(canvas);
}

/* The input tokens along the bottom, the next tokens and markers on top. */
static void draw_axes(plot_canvas *canvas, const lens_view *view, const heatmap_layout *layout) {
    char label[PLOT_LABEL_CAPACITY], position[16];
    for (int j = 0; j < shown_positions(view); j++) {
        int t = view->positions.first + j;
        double middle = layout->column_left[j] + (layout->column_width[j] - 1.0) / 2, dy = panel_offset(layout, j);
        snprintf(position, sizeof position, "%d", t);
        bool correct = lens_view_final_is_next(view, t);
        const char *names[] = {"position", "token", "correct"};
        const char *values[] = {position, plot_token_label(view, lens_view_next_id(view, t), label),
                                correct ? "true" : "false"};
        plot_canvas_group_begin(canvas, "next-token", names, values, 3, NULL);
        plot_canvas_text(canvas, middle, layout->next_y + dy, label, next_font, PLOT_ANCHOR_MIDDLE, black);
        if (correct) {
            double marker[] = {middle - 5.0, layout->marker_y + dy - 4.0, middle + 5.0, layout->marker_y + dy - 4.0,
                               middle, layout->marker_y + dy + 4.0};
            plot_canvas_polygon(canvas, marker, 3, (lens_rgb){0xD6, 0x27, 0x28}, 1.0);
        }
        plot_canvas_group_end(canvas);
        values[1] = plot_token_label(view, lens_view_input_id(view, t), label);
        plot_canvas_group_begin(canvas, "input-token", names, values, 2, NULL);
        plot_canvas_text(canvas, middle, layout->input_y + dy, label, axis_font, PLOT_ANCHOR_MIDDLE, black);
        plot_canvas_group_end(canvas);
    }
    for (int panel = 0; panel < layout->n_panels; panel++) {
        double dy = panel * layout->panel_height;
        plot_canvas_text(canvas, layout->grid_left, layout->next_caption_y + dy,
                         "true next token (\xE2\x96\xBC where the model's final top-1 is right)", caption_font,
                         PLOT_ANCHOR_START, grey);
        plot_canvas_text(canvas, layout->grid_left, layout->input_caption_y + dy,
                         "input token (each cell predicts the token after it)", caption_font, PLOT_ANCHOR_START, grey);
    }
}

static void draw_colour_bar(plot_canvas *canvas, const lens_scale *scale, const char *caption,
                            const heatmap_layout *layout) {
    double left = layout->grid_left;
    plot_canvas_group_begin(canvas, "colour-bar", NULL, NULL, 0, NULL);
    plot_canvas_text(canvas, left, layout->bar_caption_y, caption, caption_font, PLOT_ANCHOR_START, black);
    double step = layout->bar_width / BAR_STEPS;
    for (int i = 0; i < BAR_STEPS; i++)
        plot_canvas_rect(canvas, left + i * step, layout->bar_top, step + 0.5, layout->bar_height,
                         lens_colour_ramp((i + 0.5) / BAR_STEPS));
    plot_canvas_frame(canvas, left, layout->bar_top, layout->bar_width, layout->bar_height, grey, 0.5);
    plot_tick ticks[PLOT_MAX_TICKS];
    int n = plot_scale_ticks(scale, ticks, PLOT_MAX_TICKS);
    for (int i = 0; i < n; i++) {
        double x = left + ticks[i].position * layout->bar_width;
        double tick[] = {x, layout->bar_top + layout->bar_height, x, layout->bar_top + layout->bar_height + 3.0};
        plot_canvas_line(canvas, tick, 2, grey, 1.0, false);
        plot_canvas_text(canvas, x, layout->tick_y, ticks[i].label, caption_font, PLOT_ANCHOR_MIDDLE, black);
    }
    plot_canvas_group_end(canvas);
}

/* Draws the whole heatmap as PNG or SVG to out. */
static loupe_status draw_heatmap(FILE *out, plot_format format, const lens_view *view, const plot_style *style,
                                 const char *name, loupe_error *error) {
    char title[PLOT_TITLE_CAPACITY], caption[PLOT_TITLE_CAPACITY];
    lens_scale scale = lens_scale_over_view(&style->metric, view);
    plot_title(view, style, title);
    plot_scale_caption(&style->metric, &scale, caption, sizeof caption);
    heatmap_layout layout = {0};
    loupe_status status = layout_heatmap(view, style, title, caption, &layout, error);
    plot_canvas *canvas = NULL;
    if (status == LOUPE_OK) {
        canvas = plot_canvas_create(format, out, name, layout.width, layout.height, style->dpi, true, title, error);
        if (canvas == NULL) status = error->status;
    }
    if (status == LOUPE_OK) {
        plot_canvas_text(canvas, layout.margin, layout.title_y, title, title_font, PLOT_ANCHOR_START, black);
        for (int panel = 0; panel < layout.n_panels; panel++)
            for (int line = 0; line < shown_rows(view); line++) {
                int row = row_on_line(view, style, line);
                const char *names[] = {"layer"};
                const char *values[] = {lens_view_row_name(view, row)};
                plot_canvas_group_begin(canvas, "layer-name", names, values, 1, NULL);
                plot_canvas_text(canvas, layout.grid_left - 8.0,
                                 layout.grid_top + panel * layout.panel_height + (line + 0.5) * layout.cell_height,
                                 values[0], axis_font, PLOT_ANCHOR_END, black);
                plot_canvas_group_end(canvas);
            }
        plot_canvas_group_begin(canvas, "cells", NULL, NULL, 0, NULL);
        for (int line = 0; line < shown_rows(view); line++)
            for (int j = 0; j < shown_positions(view); j++)
                draw_cell(canvas, view, style, &scale, &layout, line, row_on_line(view, style, line), j);
        plot_canvas_group_end(canvas);
        draw_axes(canvas, view, &layout);
        draw_colour_bar(canvas, &scale, caption, &layout);
        status = plot_canvas_finish(canvas, error);
    }
    free(layout.column_left);
    free(layout.column_width);
    return status;
}

typedef struct heatmap_file {
    const lens_view *view;
    const plot_style *style;
    plot_format format;
    const char *path;
} heatmap_file;

static loupe_status write_heatmap_file(FILE *out, const void *context, loupe_error *error) {
    const heatmap_file *file = context;
    return file->format == PLOT_FORMAT_HTML ? plot_html_write(out, file->view, file->style, file->path, error)
                                            : draw_heatmap(out, file->format, file->view, file->style, file->path, error);
}

loupe_status plot_heatmap_write(const lens_view *view, const plot_style *style, const char *path,
                                loupe_error *error) {
    heatmap_file file = {.view = view, .style = style, .path = path};
    if (!plot_format_for_path(path, &file.format))
        return error_set(error, LOUPE_ERROR_ARGUMENT, "%s: the file name must end in .png, .svg or .html", path);
    return file_replace(path, write_heatmap_file, &file, error);
}
