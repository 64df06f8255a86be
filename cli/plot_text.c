/*
 * plot_text.c - measuring text for plot layouts with pango, the same way the
 * PNG backend draws it: the system fonts through fontconfig (so CJK and
 * emoji fall back to fonts that have them), 96 dpi, unhinted advances.
 */
#include <pango/pangocairo.h>

#include "plot_canvas_internal.h"

/* Pango gets only the first family: fontconfig finds the CJK and emoji fonts
 * for the characters DejaVu lacks, whereas naming the emoji font here would
 * let its keycap digits stand in for plain ones. */
static const char pango_family[] = "DejaVu Sans, sans-serif";

/* The measuring layout, made on first use. */
static PangoContext *measure_context;
static PangoLayout *measure_layout;

PangoFontDescription *plot_text_font_description(plot_font font) {
    PangoFontDescription *description = pango_font_description_from_string(pango_family);
    pango_font_description_set_absolute_size(description, font.size * PANGO_SCALE);
    pango_font_description_set_weight(description, font.bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
    return description;
}

void plot_text_set_font_options(PangoContext *context) {
    cairo_font_options_t *options = cairo_font_options_create();
    cairo_font_options_set_hint_metrics(options, CAIRO_HINT_METRICS_OFF);
    cairo_font_options_set_hint_style(options, CAIRO_HINT_STYLE_NONE);
    pango_cairo_context_set_font_options(context, options);
    cairo_font_options_destroy(options);
}

double plot_text_width(const char *text, plot_font font) {
    if (measure_layout == NULL) {
        measure_context = pango_font_map_create_context(pango_cairo_font_map_get_default());
        pango_cairo_context_set_resolution(measure_context, 96.0);
        plot_text_set_font_options(measure_context);
        measure_layout = pango_layout_new(measure_context);
    }
    PangoFontDescription *description = plot_text_font_description(font);
    pango_layout_set_font_description(measure_layout, description);
    pango_font_description_free(description);
    pango_layout_set_text(measure_layout, text, -1);
    PangoRectangle logical;
    pango_layout_get_extents(measure_layout, NULL, &logical);
    return (double)logical.width / PANGO_SCALE;
}

void plot_text_shutdown(void) {
    if (measure_layout != NULL) g_object_unref(measure_layout);
    if (measure_context != NULL) g_object_unref(measure_context);
    measure_layout = NULL;
    measure_context = NULL;
    /* cairo_debug_reset_static_data and FcFini would assert while pango
     * still caches fonts; dropping the default font map is what is safe */
    pango_cairo_font_map_set_default(NULL);
}
