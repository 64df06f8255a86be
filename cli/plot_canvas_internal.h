/*
 * plot_canvas_internal.h - the canvas behind plot_canvas.h, shared by its
 * dispatcher (plot_canvas.c) and its two backends.
 */
#ifndef LOUPE_PLOT_CANVAS_INTERNAL_H
#define LOUPE_PLOT_CANVAS_INTERNAL_H

#ifdef LOUPE_PLOTS_PNG
#include <cairo.h>
#include <pango/pangocairo.h>
#endif

#include "plot_canvas.h"

struct plot_canvas {
    plot_format format;
    FILE *out;
    const char *name;
    double width, height; /* pixels at 96 dpi */
#ifdef LOUPE_PLOTS_PNG
    /* PNG */
    cairo_surface_t *surface;
    cairo_t *cairo;
    PangoLayout *layout;
#endif
    /* SVG */
    int open_groups;
};

#ifdef LOUPE_PLOTS_PNG
/* The font description of font (caller frees with pango_font_description_free). */
PangoFontDescription *plot_text_font_description(plot_font font);

/* Font options that keep glyph advances unhinted, so widths measured for the
 * layout match widths drawn at any dpi. */
void plot_text_set_font_options(PangoContext *context);

/* PNG backend (plot_canvas_cairo.c). */
loupe_status plot_cairo_create(plot_canvas *canvas, double dpi, loupe_error *error);
void plot_cairo_rect(plot_canvas *canvas, double x, double y, double width, double height, lens_rgb fill);
void plot_cairo_frame(plot_canvas *canvas, double x, double y, double width, double height, lens_rgb colour,
                      double line_width);
void plot_cairo_path(plot_canvas *canvas, const double *xy, int n, lens_rgb colour, double line_width, bool dashed,
                     bool fill, double opacity);
void plot_cairo_text(plot_canvas *canvas, double x, double y, const char *text, plot_font font, plot_anchor anchor,
                     lens_rgb colour);
loupe_status plot_cairo_finish(plot_canvas *canvas, loupe_error *error);

#endif

/* SVG backend (plot_canvas_svg.c). */
void plot_svg_begin(plot_canvas *canvas, bool standalone, const char *title);
void plot_svg_rect(plot_canvas *canvas, double x, double y, double width, double height, lens_rgb fill);
void plot_svg_frame(plot_canvas *canvas, double x, double y, double width, double height, lens_rgb colour,
                    double line_width);
void plot_svg_path(plot_canvas *canvas, const double *xy, int n, lens_rgb colour, double line_width, bool dashed,
                   bool fill, double opacity);
void plot_svg_text(plot_canvas *canvas, double x, double y, const char *text, plot_font font, plot_anchor anchor,
                   lens_rgb colour);
void plot_svg_group_begin(plot_canvas *canvas, const char *class_name, const char *const *names,
                          const char *const *values, int n_attributes, const char *title);
void plot_svg_group_end(plot_canvas *canvas);
loupe_status plot_svg_finish(plot_canvas *canvas, loupe_error *error);

#endif
