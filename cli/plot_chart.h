/*
 * plot_chart.h - line charts over layers (or any labelled x points), as PNG,
 * SVG or a self-contained HTML page; the format follows the file name.
 *
 * A figure is one or more panels stacked top to bottom that share the x
 * axis (e.g. the layers input, h1 .. hL). Each panel draws several series
 * (one line each, with a legend), optional shaded bands between two curves
 * (e.g. a quantile range around a median), on a linear or a log y axis.
 *
 *     double median[7], q25[7], q75[7];          (one value per layer)
 *     plot_series lines[] = {{"median KL(final || row)", median}};
 *     plot_band bands[] = {{"25% .. 75%", q25, q75, 0}};
 *     plot_chart panel = {.title = "KL to the final row", .y_label = "nats",
 *                         .series = lines, .n_series = 1, .bands = bands, .n_bands = 1};
 *     plot_figure figure = {.title = "gpt2-demo over 1000 texts", .x_label = "layer",
 *                           .x_labels = names, .n_points = 7, .charts = &panel, .n_charts = 1,
 *                           .dpi = 144};
 *     status = plot_figure_write(&figure, "kl.png", &error);
 *
 * Missing values are NAN (and, on a log axis, values <= 0): a line breaks
 * there and a band leaves the gap unshaded. Series take colours from a
 * colour-blind-safe categorical palette (Okabe and Ito), dashed after the
 * seventh. Nothing here knows about lenses.
 */
#ifndef LOUPE_PLOT_CHART_H
#define LOUPE_PLOT_CHART_H

#include <stdbool.h>
#include <stdio.h>

#include "loupe.h"
#include "plot_canvas.h"

/* One line. */
typedef struct plot_series {
    const char *name;     /* in the legend */
    const double *values; /* (n_points) NAN where there is no value */
} plot_series;

/* A shaded area between two curves. */
typedef struct plot_band {
    const char *name;          /* in the legend; NULL for none */
    const double *low, *high;  /* (n_points) NAN where missing */
    int series;                /* takes the colour of this series (index), -1 for grey */
} plot_band;

/* One panel. */
typedef struct plot_chart {
    const char *title;   /* above the panel */
    const char *y_label; /* the units of the y axis, e.g. "nats" */
    bool log_y;          /* a log10 axis */
    const plot_series *series;
    int n_series;
    const plot_band *bands; /* drawn under the lines */
    int n_bands;
} plot_chart;

typedef struct plot_figure {
    const char *title;            /* the whole figure's title */
    const char *x_label;          /* under the shared x axis */
    const char *const *x_labels;  /* (n_points) a label per x point */
    int n_points;                 /* at least 1 */
    const plot_chart *charts;     /* (n_charts) panels, top to bottom */
    int n_charts;
    double dpi;                   /* PNG resolution (96 = one pixel per CSS pixel) */
} plot_figure;

/* Draws the figure to path: .png, .svg, or .html (the SVG inside a page with
 * a tooltip on every point). */
loupe_status plot_figure_write(const plot_figure *figure, const char *path, loupe_error *error);

/* Draws the figure as PNG or SVG to out; `standalone` as in
 * plot_canvas_create. name names the output in messages. */
loupe_status plot_figure_draw(const plot_figure *figure, plot_format format, FILE *out, const char *name,
                              bool standalone, loupe_error *error);

#endif
