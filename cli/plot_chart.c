/*
 * plot_chart.c - the line charts of plot_chart.h, drawn on a plot_canvas:
 * panels stacked over one x axis, series with a legend at the right, bands
 * shaded under them and outlined in their colour (dashed), so that
 * overlapping bands both stay readable, linear or log10 y axes with round
 * ticks. A log axis cannot hold 0: zeros (a KL of a row against itself) are
 * drawn on the axis's bottom edge, labelled 0, and the panel's title says so.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loupe_internal.h"
#include "plot.h"
#include "plot_chart.h"

static const plot_font tick_font = {10.0, false};
static const plot_font label_font = {11.0, false};
static const plot_font panel_font = {12.0, true};
static const plot_font title_font = {14.0, true};
static const lens_rgb black = {0, 0, 0}, grey = {0x55, 0x55, 0x55}, light = {0xE3, 0xE3, 0xE3};

/* Okabe and Ito's colour-blind-safe palette, less its yellow (too pale on white). */
static const lens_rgb palette[] = {
    {0x00, 0x72, 0xB2}, {0xD5, 0x5E, 0x00}, {0x00, 0x9E, 0x73}, {0xCC, 0x79, 0xA7},
    {0xE6, 0x9F, 0x00}, {0x56, 0xB4, 0xE9}, {0x00, 0x00, 0x00},
};
enum { PALETTE_SIZE = sizeof palette / sizeof palette[0] };

static const double margin = 14.0, panel_height = 200.0, panel_gap = 56.0, point_spacing_min = 30.0;

typedef struct chart_layout {
    double plot_left, plot_width, legend_left, first_panel_top, x_labels_y, width, height, spacing;
    int label_every; /* write every n-th x label so they do not overlap */
} chart_layout;

static double max_double(double a, double b) { return a > b ? a : b; }

/* A value that can be drawn on the panel's axis (zeros on a log axis on its
 * bottom edge). */
static bool drawable(const plot_chart *chart, double value) {
    return isfinite(value) && (!chart->log_y || value >= 0.0);
}

/* Whether a log panel has zeros to draw on its bottom edge. */
static bool log_zeros(const plot_chart *chart, int n_points) {
    if (!chart->log_y) return false;
    for (int s = 0; s < chart->n_series + 2 * chart->n_bands; s++) {
        const double *values = s < chart->n_series ? chart->series[s].values
                               : (s - chart->n_series) % 2 == 0 ? chart->bands[(s - chart->n_series) / 2].low
                                                                : chart->bands[(s - chart->n_series) / 2].high;
        for (int i = 0; i < n_points; i++)
            if (values[i] == 0.0) return true;
    }
    return false;
}

/* The y range of a panel: round ends that hold every drawable value. */
static void y_range(const plot_chart *chart, int n_points, double *low, double *high) {
    bool any = false;
    double lo = 0.0, hi = 0.0;
    for (int s = 0; s < chart->n_series + 2 * chart->n_bands; s++) {
        const double *values = s < chart->n_series ? chart->series[s].values
                               : (s - chart->n_series) % 2 == 0 ? chart->bands[(s - chart->n_series) / 2].low
                                                                : chart->bands[(s - chart->n_series) / 2].high;
        for (int i = 0; i < n_points; i++)
            if (drawable(chart, values[i]) && !(chart->log_y && values[i] == 0.0)) {
                if (!any || values[i] < lo) lo = values[i];
                if (!any || values[i] > hi) hi = values[i];
                any = true;
            }
    }
    if (chart->log_y) {
        if (!any) lo = hi = 1.0;
        *low = pow(10.0, floor(log10(lo)));
        *high = pow(10.0, ceil(log10(hi)));
        if (*high <= *low) *high = *low * 10.0;
        if (log_zeros(chart, n_points)) *low /= 10.0; /* a decade below the values: the bottom edge, 0 */
        return;
    }
    if (!any) lo = hi = 0.0;
    if (lo > 0.0) lo = 0.0; /* linear axes start at 0 when the values are positive */
    if (hi <= lo) hi = lo + 1.0;
    plot_tick ticks[PLOT_MAX_TICKS];
    int n = plot_axis_ticks(lo, hi, false, ticks, PLOT_MAX_TICKS);
    double step = n >= 2 ? ticks[1].value - ticks[0].value : hi - lo;
    *low = floor(lo / step + 1e-9) * step;
    *high = ceil(hi / step - 1e-9) * step;
    if (*high <= *low) *high = *low + step;
}

/* The y pixel of value within a panel whose plot area starts at top. */
static double y_pixel(const plot_chart *chart, double value, double low, double high, double top) {
    if (chart->log_y && value <= 0.0) return top + panel_height;
    double t = chart->log_y ? (log10(value) - log10(low)) / (log10(high) - log10(low)) : (value - low) / (high - low);
    return top + (1.0 - t) * panel_height;
}

static double x_pixel(const chart_layout *layout, int i) { return layout->plot_left + (i + 0.5) * layout->spacing; }

static void layout_chart(const plot_figure *figure, chart_layout *layout) {
    double label_width = 0.0, legend_width = 0.0, tick_width = 40.0;
    for (int i = 0; i < figure->n_points; i++)
        label_width = max_double(label_width, plot_text_width(figure->x_labels[i], tick_font));
    for (int c = 0; c < figure->n_charts; c++) {
        const plot_chart *chart = &figure->charts[c];
        for (int s = 0; s < chart->n_series; s++)
            legend_width = max_double(legend_width, plot_text_width(chart->series[s].name, label_font));
        for (int b = 0; b < chart->n_bands; b++)
            if (chart->bands[b].name != NULL)
                legend_width = max_double(legend_width, plot_text_width(chart->bands[b].name, label_font));
        tick_width = max_double(tick_width, plot_text_width("0.0001", tick_font) + 8.0);
    }
    layout->spacing = max_double(point_spacing_min, 480.0 / figure->n_points);
    layout->label_every = (int)ceil((label_width + 6.0) / layout->spacing);
    if (layout->label_every < 1) layout->label_every = 1;
    layout->plot_left = margin + 18.0 + tick_width;
    layout->plot_width = layout->spacing * figure->n_points;
    layout->legend_left = layout->plot_left + layout->plot_width + 16.0;
    layout->width = max_double(layout->legend_left + 28.0 + legend_width + margin,
                               plot_text_width(figure->title, title_font) + 2 * margin);
    layout->first_panel_top = margin + 28.0 + 22.0;
    double panels_bottom = layout->first_panel_top + figure->n_charts * panel_height + (figure->n_charts - 1) * panel_gap;
    layout->x_labels_y = panels_bottom + 12.0;
    layout->height = panels_bottom + 24.0 + 20.0 + margin;
}

/* The panel's frame, grid lines and y ticks. */
static void draw_axes(plot_canvas *canvas, const plot_figure *figure, const plot_chart *chart,
                      const chart_layout *layout, double top, double low, double high) {
    plot_tick ticks[PLOT_MAX_TICKS];
    int n = plot_axis_ticks(low, high, chart->log_y, ticks, PLOT_MAX_TICKS);
    bool zeros = log_zeros(chart, figure->n_points);
    for (int i = 0; i < n; i++) {
        double y = y_pixel(chart, ticks[i].value, low, high, top);
        double grid[] = {layout->plot_left, y, layout->plot_left + layout->plot_width, y};
        plot_canvas_line(canvas, grid, 2, light, 1.0, false);
        char label[32];
        snprintf(label, sizeof label, "%g", i == 0 && zeros ? 0.0 : ticks[i].value);
        plot_canvas_text(canvas, layout->plot_left - 5.0, y, label, tick_font, PLOT_ANCHOR_END, black);
    }
    for (int i = 0; i < figure->n_points; i++) {
        double x = x_pixel(layout, i);
        double tick[] = {x, top + panel_height, x, top + panel_height + 3.0};
        plot_canvas_line(canvas, tick, 2, grey, 1.0, false);
    }
    plot_canvas_frame(canvas, layout->plot_left, top, layout->plot_width, panel_height, grey, 1.0);
    /* the unit after the title, unless the title names it already */
    bool unit = chart->y_label != NULL && strstr(chart->title, chart->y_label) == NULL;
    char title[PLOT_TITLE_CAPACITY];
    snprintf(title, sizeof title, "%s%s%s%s%s", chart->title, unit ? " (" : "", unit ? chart->y_label : "",
             unit ? ")" : "", zeros ? "; log axis: 0 drawn on the bottom edge" : "");
    plot_canvas_text(canvas, layout->plot_left, top - 12.0, title, panel_font, PLOT_ANCHOR_START, black);
}

static lens_rgb series_colour(int s) { return s < 0 ? grey : palette[s % PALETTE_SIZE]; }

/* Shades each run of points where both curves are drawable. */
static void draw_band(plot_canvas *canvas, const plot_figure *figure, const plot_chart *chart, const plot_band *band,
                      const chart_layout *layout, double top, double low, double high, double *xy) {
    for (int first = 0; first < figure->n_points;) {
        if (!drawable(chart, band->low[first]) || !drawable(chart, band->high[first])) {
            first++;
            continue;
        }
        int end = first;
        while (end < figure->n_points && drawable(chart, band->low[end]) && drawable(chart, band->high[end])) end++;
        int n = 0;
        for (int i = first; i < end; i++, n++) {
            xy[2 * n] = x_pixel(layout, i);
            xy[2 * n + 1] = y_pixel(chart, band->high[i], low, high, top);
        }
        for (int i = end - 1; i >= first; i--, n++) {
            xy[2 * n] = x_pixel(layout, i);
            xy[2 * n + 1] = y_pixel(chart, band->low[i], low, high, top);
        }
        if (end - first == 1) { /* a lone point: a short bar */
            xy[0] -= 3.0;
            xy[2] += 3.0;
        }
        plot_canvas_polygon(canvas, xy, n, series_colour(band->series), 0.22);
        plot_canvas_line(canvas, xy, end - first, series_colour(band->series), 1.0, true);
        plot_canvas_line(canvas, xy + 2 * (end - first), end - first, series_colour(band->series), 1.0, true);
        first = end;
    }
}

/* A series: its line (broken at missing values) and a point with a tooltip
 * at every value. */
static void draw_series(plot_canvas *canvas, const plot_figure *figure, const plot_chart *chart, int s,
                        const chart_layout *layout, double top, double low, double high, double *xy) {
    const plot_series *series = &chart->series[s];
    lens_rgb colour = series_colour(s);
    bool dashed = s >= PALETTE_SIZE;
    int n = 0;
    for (int i = 0; i <= figure->n_points; i++) {
        if (i < figure->n_points && drawable(chart, series->values[i])) {
            xy[2 * n] = x_pixel(layout, i);
            xy[2 * n + 1] = y_pixel(chart, series->values[i], low, high, top);
            n++;
            continue;
        }
        plot_canvas_line(canvas, xy, n, colour, 2.0, dashed);
        n = 0;
    }
    for (int i = 0; i < figure->n_points; i++) {
        if (!drawable(chart, series->values[i])) continue;
        char value[32], title[PLOT_TITLE_CAPACITY];
        snprintf(value, sizeof value, "%.6g", series->values[i]);
        snprintf(title, sizeof title, "%s at %s: %s", series->name, figure->x_labels[i], value);
        const char *names[] = {"series", "x", "value"};
        const char *values[] = {series->name, figure->x_labels[i], value};
        plot_canvas_group_begin(canvas, "point", names, values, 3, title);
        double x = x_pixel(layout, i), y = y_pixel(chart, series->values[i], low, high, top);
        plot_canvas_rect(canvas, x - 2.5, y - 2.5, 5.0, 5.0, colour);
        plot_canvas_group_end(canvas);
    }
}

static void draw_legend(plot_canvas *canvas, const plot_chart *chart, const chart_layout *layout, double top) {
    double y = top + 8.0;
    for (int s = 0; s < chart->n_series; s++, y += 18.0) {
        double line[] = {layout->legend_left, y, layout->legend_left + 22.0, y};
        plot_canvas_line(canvas, line, 2, series_colour(s), 2.0, s >= PALETTE_SIZE);
        plot_canvas_text(canvas, layout->legend_left + 28.0, y, chart->series[s].name, label_font, PLOT_ANCHOR_START,
                         black);
    }
    for (int b = 0; b < chart->n_bands; b++) {
        if (chart->bands[b].name == NULL) continue;
        double area[] = {layout->legend_left, y - 5.0, layout->legend_left + 22.0, y - 5.0,
                         layout->legend_left + 22.0, y + 5.0, layout->legend_left, y + 5.0};
        plot_canvas_polygon(canvas, area, 4, series_colour(chart->bands[b].series), 0.22);
        plot_canvas_frame(canvas, layout->legend_left, y - 5.0, 22.0, 10.0, series_colour(chart->bands[b].series), 1.0);
        plot_canvas_text(canvas, layout->legend_left + 28.0, y, chart->bands[b].name, label_font, PLOT_ANCHOR_START,
                         black);
        y += 18.0;
    }
}

loupe_status plot_figure_draw(const plot_figure *figure, plot_format format, FILE *out, const char *name,
                              bool standalone, loupe_error *error) {
    if (figure->n_points < 1 || figure->n_charts < 1)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "%s: a chart needs at least one point and one panel", name);
    chart_layout layout;
    layout_chart(figure, &layout);
    double *xy = malloc(sizeof(double) * 4 * ((size_t)figure->n_points + 2));
    if (xy == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", name);
    plot_canvas *canvas =
        plot_canvas_create(format, out, name, layout.width, layout.height, figure->dpi, standalone, figure->title, error);
    if (canvas == NULL) {
        free(xy);
        return error->status;
    }
    plot_canvas_text(canvas, margin, margin + 10.0, figure->title, title_font, PLOT_ANCHOR_START, black);
    for (int c = 0; c < figure->n_charts; c++) {
        const plot_chart *chart = &figure->charts[c];
        double top = layout.first_panel_top + c * (panel_height + panel_gap), low, high;
        y_range(chart, figure->n_points, &low, &high);
        plot_canvas_group_begin(canvas, "panel", NULL, NULL, 0, chart->title);
        draw_axes(canvas, figure, chart, &layout, top, low, high);
        for (int b = 0; b < chart->n_bands; b++)
            draw_band(canvas, figure, chart, &chart->bands[b], &layout, top, low, high, xy);
        for (int s = 0; s < chart->n_series; s++) draw_series(canvas, figure, chart, s, &layout, top, low, high, xy);
        draw_legend(canvas, chart, &layout, top);
        plot_canvas_group_end(canvas);
    }
    for (int i = 0; i < figure->n_points; i += layout.label_every)
        plot_canvas_text(canvas, x_pixel(&layout, i), layout.x_labels_y, figure->x_labels[i], tick_font,
                         PLOT_ANCHOR_MIDDLE, black);
    plot_canvas_text(canvas, layout.plot_left + layout.plot_width / 2, layout.x_labels_y + 20.0, figure->x_label,
                     label_font, PLOT_ANCHOR_MIDDLE, grey);
    free(xy);
    return plot_canvas_finish(canvas, error);
}

/* The HTML page around the SVG: every point's <title> is its tooltip. */
static loupe_status write_html(const plot_figure *figure, FILE *out, const char *name, loupe_error *error) {
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>", out);
    plot_markup_text(out, figure->title);
    fputs("</title>\n<style>\nbody { font-family: ", out);
    plot_markup_text(out, plot_font_families);
    fputs("; margin: 1em; }\nsvg .point rect:hover { stroke: #000; stroke-width: 1.5; }\n</style>\n</head>\n<body>\n", out);
    loupe_status status = plot_figure_draw(figure, PLOT_FORMAT_SVG, out, name, false, error);
    fputs("<p>Hover a point to read its value.</p>\n</body>\n</html>\n", out);
    return status;
}

typedef struct figure_file {
    const plot_figure *figure;
    plot_format format;
    const char *path;
} figure_file;

static loupe_status write_figure_file(FILE *out, const void *context, loupe_error *error) {
    const figure_file *file = context;
    return file->format == PLOT_FORMAT_HTML ? write_html(file->figure, out, file->path, error)
                                            : plot_figure_draw(file->figure, file->format, out, file->path, true, error);
}

loupe_status plot_figure_write(const plot_figure *figure, const char *path, loupe_error *error) {
    figure_file file = {.figure = figure, .path = path};
    if (!plot_format_for_path(path, &file.format))
        return error_set(error, LOUPE_ERROR_ARGUMENT, "%s: the file name must end in .png, .svg or .html", path);
    return file_replace(path, write_figure_file, &file, error);
}
