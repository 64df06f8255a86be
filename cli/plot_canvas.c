/*
 * plot_canvas.c - the canvas of plot_canvas.h: picks the format from a file
 * name and hands each drawing call to the PNG or the SVG backend.
 */
#include <stdlib.h>
#include <strings.h>
#include <string.h>

#include "loupe_internal.h"
#include "plot_canvas_internal.h"

#ifdef LOUPE_PLOTS_PNG
const bool plot_png_available = true;
#else
const bool plot_png_available = false;
#endif
const char plot_font_families[] = "DejaVu Sans, Noto Sans CJK SC, Noto Color Emoji, sans-serif";

const char plot_png_absent_message[] = "this loupe was built without PNG support (-DLOUPE_PLOTS=OFF); "
                                       "write .svg or .html";

bool plot_format_for_path(const char *path, plot_format *format) {
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (dot == NULL || (slash != NULL && dot < slash)) return false;
    if (strcasecmp(dot, ".png") == 0) *format = PLOT_FORMAT_PNG;
    else if (strcasecmp(dot, ".svg") == 0) *format = PLOT_FORMAT_SVG;
    else if (strcasecmp(dot, ".html") == 0 || strcasecmp(dot, ".htm") == 0) *format = PLOT_FORMAT_HTML;
    else return false;
    return true;
}

plot_canvas *plot_canvas_create(plot_format format, FILE *out, const char *name, double width, double height,
                                double dpi, bool standalone, const char *title, loupe_error *error) {
    if (format == PLOT_FORMAT_HTML) {
        error_set(error, LOUPE_ERROR_ARGUMENT, "%s: a canvas draws PNG or SVG, not HTML", name);
        return NULL;
    }
    if (format == PLOT_FORMAT_PNG && !plot_png_available) {
        error_set(error, LOUPE_ERROR_UNSUPPORTED, "%s: %s", name, plot_png_absent_message);
        return NULL;
    }
    plot_canvas *canvas = calloc(1, sizeof *canvas);
    if (canvas == NULL) {
        error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", name);
        return NULL;
    }
    canvas->format = format;
    canvas->out = out;
    canvas->name = name;
    canvas->width = width;
    canvas->height = height;
#ifdef LOUPE_PLOTS_PNG
    if (format == PLOT_FORMAT_PNG) {
        if (plot_cairo_create(canvas, dpi, error) != LOUPE_OK) {
            plot_cairo_finish(canvas, NULL);
            free(canvas);
            return NULL;
        }
        return canvas;
    }
#else
    (void)dpi;
#endif
    plot_svg_begin(canvas, standalone, title);
    return canvas;
}

void plot_canvas_rect(plot_canvas *canvas, double x, double y, double width, double height, lens_rgb fill) {
#ifdef LOUPE_PLOTS_PNG
    if (canvas->format == PLOT_FORMAT_PNG) {
        plot_cairo_rect(canvas, x, y, width, height, fill);
        return;
    }
#endif
    plot_svg_rect(canvas, x, y, width, height, fill);
}

void plot_canvas_frame(plot_canvas *canvas, double x, double y, double width, double height, lens_rgb colour,
                       double line_width) {
#ifdef LOUPE_PLOTS_PNG
    if (canvas->format == PLOT_FORMAT_PNG) {
        plot_cairo_frame(canvas, x, y, width, height, colour, line_width);
        return;
    }
#endif
    plot_svg_frame(canvas, x, y, width, height, colour, line_width);
}

void plot_canvas_line(plot_canvas *canvas, const double *xy, int n, lens_rgb colour, double line_width, bool dashed) {
    if (n < 2) return;
#ifdef LOUPE_PLOTS_PNG
    if (canvas->format == PLOT_FORMAT_PNG) {
        plot_cairo_path(canvas, xy, n, colour, line_width, dashed, false, 1.0);
        return;
    }
#endif
    plot_svg_path(canvas, xy, n, colour, line_width, dashed, false, 1.0);
}

void plot_canvas_polygon(plot_canvas *canvas, const double *xy, int n, lens_rgb fill, double opacity) {
    if (n < 3) return;
#ifdef LOUPE_PLOTS_PNG
    if (canvas->format == PLOT_FORMAT_PNG) {
        plot_cairo_path(canvas, xy, n, fill, 0.0, false, true, opacity);
        return;
    }
#endif
    plot_svg_path(canvas, xy, n, fill, 0.0, false, true, opacity);
}

void plot_canvas_text(plot_canvas *canvas, double x, double y, const char *text, plot_font font, plot_anchor anchor,
                      lens_rgb colour) {
    if (text[0] == '\0') return;
#ifdef LOUPE_PLOTS_PNG
    if (canvas->format == PLOT_FORMAT_PNG) {
        plot_cairo_text(canvas, x, y, text, font, anchor, colour);
        return;
    }
#endif
    plot_svg_text(canvas, x, y, text, font, anchor, colour);
}

void plot_canvas_group_begin(plot_canvas *canvas, const char *class_name, const char *const *names,
                             const char *const *values, int n_attributes, const char *title) {
    if (canvas->format == PLOT_FORMAT_SVG) plot_svg_group_begin(canvas, class_name, names, values, n_attributes, title);
}

void plot_canvas_group_end(plot_canvas *canvas) {
    if (canvas->format == PLOT_FORMAT_SVG) plot_svg_group_end(canvas);
}

loupe_status plot_canvas_finish(plot_canvas *canvas, loupe_error *error) {
    if (canvas == NULL) return LOUPE_OK;
#ifdef LOUPE_PLOTS_PNG
    loupe_status status =
        canvas->format == PLOT_FORMAT_PNG ? plot_cairo_finish(canvas, error) : plot_svg_finish(canvas, error);
#else
    loupe_status status = plot_svg_finish(canvas, error);
#endif
    free(canvas);
    return status;
}
