/*
 * plot_canvas.h - the few drawing operations every loupe plot is made of,
 * with two backends: PNG through cairo and pango (plot_canvas_cairo.c) and
 * standalone SVG written as text (plot_canvas_svg.c). A plot lays itself out
 * once, measuring its labels with pango, and draws the same calls on either
 * backend, so the PNG and the SVG of a plot agree.
 *
 * Coordinates are CSS pixels (1/96 inch), origin top left, y down. Text is
 * UTF-8, set in the system's sans-serif font with fontconfig's fallbacks
 * (CJK and emoji fonts where installed).
 */
#ifndef LOUPE_PLOT_CANVAS_H
#define LOUPE_PLOT_CANVAS_H

#include <stdbool.h>
#include <stdio.h>

#include "lens_output.h"
#include "loupe.h"

typedef enum plot_format {
    PLOT_FORMAT_PNG,
    PLOT_FORMAT_SVG,
    PLOT_FORMAT_HTML,
} plot_format;

/* The format a file name asks for by its extension (.png, .svg, .html or
 * .htm, any case); false when it has none of them. */
bool plot_format_for_path(const char *path, plot_format *format);

/* Whether this build draws PNG (cairo and pango, -DLOUPE_PLOTS=ON), and
 * what to tell a user who asks for PNG when it does not. */
extern const bool plot_png_available;
extern const char plot_png_absent_message[];

/* The font families SVG and HTML ask for, in order; PNG asks fontconfig for
 * the first and lets it fall back. */
extern const char plot_font_families[];

typedef enum plot_anchor {
    PLOT_ANCHOR_START,  /* x is the left end of the text */
    PLOT_ANCHOR_MIDDLE, /* x is its middle */
    PLOT_ANCHOR_END,    /* x is its right end */
} plot_anchor;

typedef struct plot_font {
    double size; /* pixels */
    bool bold;
} plot_font;

/* ------------------------------------------------------------------------
 * Measuring text: pango with fontconfig, at 96 dpi (plot_text.c), or in a
 * build without PNG an estimate from character widths (plot_text_estimate.c)
 * ---------------------------------------------------------------------- */

/* The width in pixels of the UTF-8 text set in font. */
double plot_text_width(const char *text, plot_font font);

/* Frees pango's and fontconfig's caches; call once when all plotting is done
 * (keeps leak checkers quiet). */
void plot_text_shutdown(void);

/* ------------------------------------------------------------------------
 * Drawing
 * ---------------------------------------------------------------------- */

typedef struct plot_canvas plot_canvas;

/* A canvas of width x height pixels that will be written to out:
 * PLOT_FORMAT_PNG at `dpi` (the pixel size of the image is width x height
 * times dpi / 96), or PLOT_FORMAT_SVG (dpi unused; `standalone` adds the XML
 * declaration, for a .svg file rather than SVG inside HTML). `title` names
 * the picture (SVG <title>). `name` names the output in messages. NULL with
 * *error set when the image would be too large or memory runs out. */
plot_canvas *plot_canvas_create(plot_format format, FILE *out, const char *name, double width, double height,
                                double dpi, bool standalone, const char *title, loupe_error *error);

/* A filled rectangle. */
void plot_canvas_rect(plot_canvas *canvas, double x, double y, double width, double height, lens_rgb fill);

/* The outline of a rectangle, line_width pixels wide. */
void plot_canvas_frame(plot_canvas *canvas, double x, double y, double width, double height, lens_rgb colour,
                       double line_width);

/* A line through n points, xy (2n) = x0, y0, x1, y1, ...; dashed or solid. */
void plot_canvas_line(plot_canvas *canvas, const double *xy, int n, lens_rgb colour, double line_width, bool dashed);

/* A filled polygon through n points, xy (2n); opacity 0 .. 1. */
void plot_canvas_polygon(plot_canvas *canvas, const double *xy, int n, lens_rgb fill, double opacity);

/* Text whose line is vertically centred on y, anchored at x. */
void plot_canvas_text(plot_canvas *canvas, double x, double y, const char *text, plot_font font, plot_anchor anchor,
                      lens_rgb colour);

/* Groups what follows until plot_canvas_group_end, for SVG readers and
 * tooltips: a <g class="class_name"> with the attributes data-NAME="VALUE"
 * (names and values: n_attributes pairs, may be 0) and a <title> when title
 * is not NULL. PNG ignores groups. */
void plot_canvas_group_begin(plot_canvas *canvas, const char *class_name, const char *const *names,
                             const char *const *values, int n_attributes, const char *title);
void plot_canvas_group_end(plot_canvas *canvas);

/* Writes the picture out and frees the canvas (also when it fails; NULL is
 * a no-op). */
loupe_status plot_canvas_finish(plot_canvas *canvas, loupe_error *error);

/* ------------------------------------------------------------------------
 * Markup (plot_markup.c): text for SVG and HTML
 * ---------------------------------------------------------------------- */

/* Writes s as XML character data or attribute value: & < > " ' escaped,
 * control characters and bytes that are not valid UTF-8 as U+FFFD. */
void plot_markup_text(FILE *out, const char *s);

/* Writes s as a JSON string literal safe inside an HTML <script>: < > & and
 * U+2028/9 escaped as \uXXXX, invalid UTF-8 as U+FFFD. */
void plot_markup_json_string(FILE *out, const char *s);

/* Writes a colour as #rrggbb. */
void plot_markup_colour(FILE *out, lens_rgb c);

#endif
