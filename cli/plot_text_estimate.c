/*
 * plot_text_estimate.c - measuring text for plot layouts in a build without
 * pango (-DLOUPE_PLOTS=OFF, SVG and HTML only): an estimate from each
 * character's terminal width, on the generous side so that labels laid out
 * with it do not overlap when the viewer sets them in its own font.
 */
#include <string.h>
#include <sys/types.h>

#include <utf8proc.h>

#include "plot_canvas.h"

/* Advance of one narrow character, in ems: DejaVu Sans averages about 0.55
 * for text (its digits are 0.64); bold is wider. A wide (CJK) character
 * counts twice, a combining one not at all. */
static const double narrow_advance_em = 0.6;
static const double narrow_advance_bold_em = 0.66;

double plot_text_width(const char *text, plot_font font) {
    const utf8proc_uint8_t *bytes = (const utf8proc_uint8_t *)text;
    utf8proc_ssize_t remaining = (utf8proc_ssize_t)strlen(text);
    double columns = 0.0;
    while (remaining > 0) {
        utf8proc_int32_t code_point;
        utf8proc_ssize_t length = utf8proc_iterate(bytes, remaining, &code_point);
        if (length <= 0) { /* a byte that is not UTF-8 is drawn as one replacement character */
            length = 1;
            code_point = 0xFFFD;
        }
        columns += utf8proc_charwidth(code_point);
        bytes += length;
        remaining -= length;
    }
    return columns * font.size * (font.bold ? narrow_advance_bold_em : narrow_advance_em);
}

void plot_text_shutdown(void) {
    /* nothing is cached */
}
