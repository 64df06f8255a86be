/*
 * plot_canvas_svg.c - the SVG backend of plot_canvas.h: SVG 1.1 written as
 * text, every label a <text> element (so the picture can be searched and
 * read), numbers with two decimals.
 */
#include "loupe_internal.h"
#include "plot_canvas_internal.h"

void plot_svg_begin(plot_canvas *canvas, bool standalone, const char *title) {
    FILE *out = canvas->out;
    if (standalone) fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", out);
    fprintf(out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%.2f\" height=\"%.2f\" "
            "viewBox=\"0 0 %.2f %.2f\" font-family=\"",
            canvas->width, canvas->height, canvas->width, canvas->height);
    plot_markup_text(out, plot_font_families);
    fputs("\">\n<title>", out);
    plot_markup_text(out, title);
    fprintf(out, "</title>\n<rect x=\"0\" y=\"0\" width=\"%.2f\" height=\"%.2f\" fill=\"#ffffff\"/>\n", canvas->width,
            canvas->height);
}

void plot_svg_rect(plot_canvas *canvas, double x, double y, double width, double height, lens_rgb fill) {
    fprintf(canvas->out, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"", x, y, width, height);
    plot_markup_colour(canvas->out, fill);
    fputs("\"/>\n", canvas->out);
}

void plot_svg_frame(plot_canvas *canvas, double x, double y, double width, double height, lens_rgb colour,
                    double line_width) {
    fprintf(canvas->out, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"none\" stroke-width=\"%.2f\" stroke=\"",
            x, y, width, height, line_width);
    plot_markup_colour(canvas->out, colour);
    fputs("\"/>\n", canvas->out);
}

void plot_svg_path(plot_canvas *canvas, const double *xy, int n, lens_rgb colour, double line_width, bool dashed,
                   bool fill, double opacity) {
    FILE *out = canvas->out;
    fputs(fill ? "<polygon points=\"" : "<polyline points=\"", out);
    for (int i = 0; i < n; i++) fprintf(out, "%s%.2f,%.2f", i ? " " : "", xy[2 * i], xy[2 * i + 1]);
    if (fill) {
        fputs("\" fill=\"", out);
        plot_markup_colour(out, colour);
        fprintf(out, "\" fill-opacity=\"%.3f\"/>\n", opacity);
        return;
    }
    fprintf(out, "\" fill=\"none\" stroke-width=\"%.2f\" stroke-linejoin=\"round\"%s stroke=\"", line_width,
            dashed ? " stroke-dasharray=\"5 3\"" : "");
    plot_markup_colour(out, colour);
    fputs("\"/>\n", out);
}

void plot_svg_text(plot_canvas *canvas, double x, double y, const char *text, plot_font font, plot_anchor anchor,
                   lens_rgb colour) {
    static const char *const anchors[] = {"start", "middle", "end"};
    FILE *out = canvas->out;
    fprintf(out, "<text x=\"%.2f\" y=\"%.2f\" font-size=\"%.2f\"%s text-anchor=\"%s\" dominant-baseline=\"central\" fill=\"",
            x, y, font.size, font.bold ? " font-weight=\"bold\"" : "", anchors[anchor]);
    plot_markup_colour(out, colour);
    fputs("\" xml:space=\"preserve\">", out);
    plot_markup_text(out, text);
    fputs("</text>\n", out);
}

void plot_svg_group_begin(plot_canvas *canvas, const char *class_name, const char *const *names,
                          const char *const *values, int n_attributes, const char *title) {
    FILE *out = canvas->out;
    fputs("<g class=\"", out);
    plot_markup_text(out, class_name);
    fputc('"', out);
    for (int i = 0; i < n_attributes; i++) {
        fputs(" data-", out);
        plot_markup_text(out, names[i]);
        fputs("=\"", out);
        plot_markup_text(out, values[i]);
        fputc('"', out);
    }
    fputs(">\n", out);
    if (title != NULL) {
        fputs("<title>", out);
        plot_markup_text(out, title);
        fputs("</title>\n", out);
    }
    canvas->open_groups++;
}

void plot_svg_group_end(plot_canvas *canvas) {
    if (canvas->open_groups == 0) return;
    fputs("</g>\n", canvas->out);
    canvas->open_groups--;
}

loupe_status plot_svg_finish(plot_canvas *canvas, loupe_error *error) {
    while (canvas->open_groups > 0) plot_svg_group_end(canvas);
    fputs("</svg>\n", canvas->out);
    if (ferror(canvas->out)) return error_set(error, LOUPE_ERROR_IO, "%s: writing the SVG failed", canvas->name);
    return LOUPE_OK;
}
