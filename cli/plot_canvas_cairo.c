/*
 * plot_canvas_cairo.c - the PNG backend of plot_canvas.h: an ARGB image
 * surface scaled from CSS pixels to the chosen dpi, text laid out by pango.
 */
#include <math.h>

#include "loupe_internal.h"
#include "plot_canvas_internal.h"

/* cairo's image surfaces are at most 32767 pixels on a side. */
enum { PNG_MAX_SIDE = 32767 };

static void set_colour(cairo_t *cairo, lens_rgb c, double opacity) {
    cairo_set_source_rgba(cairo, c.r / 255.0, c.g / 255.0, c.b / 255.0, opacity);
}

loupe_status plot_cairo_create(plot_canvas *canvas, double dpi, loupe_error *error) {
    double scale = dpi / 96.0;
    double pixels_wide = ceil(canvas->width * scale), pixels_high = ceil(canvas->height * scale);
    if (!(pixels_wide >= 1 && pixels_high >= 1 && pixels_wide <= PNG_MAX_SIDE && pixels_high <= PNG_MAX_SIDE))
        return error_set(error, LOUPE_ERROR_LIMIT,
                         "%s: the picture would be %.0f x %.0f pixels at %g dpi, more than %d on a side; lower --dpi",
                         canvas->name, pixels_wide, pixels_high, dpi, PNG_MAX_SIDE);
    canvas->surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, (int)pixels_wide, (int)pixels_high);
    if (cairo_surface_status(canvas->surface) != CAIRO_STATUS_SUCCESS)
        return error_set(error, LOUPE_ERROR_MEMORY, "%s: cannot make a %.0f x %.0f image: %s", canvas->name,
                         pixels_wide, pixels_high, cairo_status_to_string(cairo_surface_status(canvas->surface)));
    canvas->cairo = cairo_create(canvas->surface);
    cairo_scale(canvas->cairo, scale, scale);
    /* an opaque white page: PNG viewers differ in how they show transparency */
    cairo_set_source_rgb(canvas->cairo, 1.0, 1.0, 1.0);
    cairo_paint(canvas->cairo);
    canvas->layout = pango_cairo_create_layout(canvas->cairo);
    PangoContext *context = pango_layout_get_context(canvas->layout);
    pango_cairo_context_set_resolution(context, 96.0);
    plot_text_set_font_options(context);
    pango_layout_context_changed(canvas->layout);
    return LOUPE_OK;
}

void plot_cairo_rect(plot_canvas *canvas, double x, double y, double width, double height, lens_rgb fill) {
    set_colour(canvas->cairo, fill, 1.0);
    cairo_rectangle(canvas->cairo, x, y, width, height);
    cairo_fill(canvas->cairo);
}

void plot_cairo_frame(plot_canvas *canvas, double x, double y, double width, double height, lens_rgb colour,
                      double line_width) {
    set_colour(canvas->cairo, colour, 1.0);
    cairo_set_line_width(canvas->cairo, line_width);
    cairo_rectangle(canvas->cairo, x, y, width, height);
    cairo_stroke(canvas->cairo);
}

void plot_cairo_path(plot_canvas *canvas, const double *xy, int n, lens_rgb colour, double line_width, bool dashed,
                     bool fill, double opacity) {
    cairo_t *cairo = canvas->cairo;
    cairo_new_path(cairo);
    for (int i = 0; i < n; i++) cairo_line_to(cairo, xy[2 * i], xy[2 * i + 1]);
    set_colour(cairo, colour, opacity);
    if (fill) {
        cairo_close_path(cairo);
        cairo_fill(cairo);
        return;
    }
    static const double dash[] = {5.0, 3.0};
    cairo_set_dash(cairo, dash, dashed ? 2 : 0, 0.0);
    cairo_set_line_width(cairo, line_width);
    cairo_set_line_join(cairo, CAIRO_LINE_JOIN_ROUND);
    cairo_stroke(cairo);
    cairo_set_dash(cairo, NULL, 0, 0.0);
}

void plot_cairo_text(plot_canvas *canvas, double x, double y, const char *text, plot_font font, plot_anchor anchor,
                     lens_rgb colour) {
    PangoFontDescription *description = plot_text_font_description(font);
    pango_layout_set_font_description(canvas->layout, description);
    pango_font_description_free(description);
    pango_layout_set_text(canvas->layout, text, -1);
    PangoRectangle logical;
    pango_layout_get_extents(canvas->layout, NULL, &logical);
    double width = (double)logical.width / PANGO_SCALE, height = (double)logical.height / PANGO_SCALE;
    double left = anchor == PLOT_ANCHOR_START ? x : anchor == PLOT_ANCHOR_MIDDLE ? x - width / 2 : x - width;
    set_colour(canvas->cairo, colour, 1.0);
    cairo_move_to(canvas->cairo, left - (double)logical.x / PANGO_SCALE, y - height / 2);
    pango_cairo_show_layout(canvas->cairo, canvas->layout);
}

/* cairo's PNG writer hands its bytes here. */
static cairo_status_t write_bytes(void *closure, const unsigned char *data, unsigned int length) {
    return fwrite(data, 1, length, (FILE *)closure) == length ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

loupe_status plot_cairo_finish(plot_canvas *canvas, loupe_error *error) {
    loupe_status status = LOUPE_OK;
    if (canvas->surface != NULL && error != NULL) {
        cairo_surface_flush(canvas->surface);
        cairo_status_t written = cairo_surface_write_to_png_stream(canvas->surface, write_bytes, canvas->out);
        if (written != CAIRO_STATUS_SUCCESS)
            status = error_set(error, LOUPE_ERROR_IO, "%s: writing the PNG failed: %s", canvas->name,
                               cairo_status_to_string(written));
    }
    if (canvas->layout != NULL) g_object_unref(canvas->layout);
    if (canvas->cairo != NULL) cairo_destroy(canvas->cairo);
    if (canvas->surface != NULL) cairo_surface_destroy(canvas->surface);
    canvas->layout = NULL;
    canvas->cairo = NULL;
    canvas->surface = NULL;
    return status;
}
