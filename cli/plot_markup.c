/*
 * plot_markup.c - text written into SVG and HTML: XML escapes, JSON strings
 * that are safe inside <script>, colours. Anything that is not valid UTF-8,
 * and control characters XML forbids, become U+FFFD.
 */
#include <string.h>

#include <utf8proc.h>

#include "plot_canvas.h"

static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */

/* The next code point of s (n bytes left) in *codepoint, -1 for a byte that
 * starts no valid character; returns the bytes it takes (at least 1). */
static size_t next_codepoint(const char *s, size_t n, int32_t *codepoint) {
    utf8proc_int32_t value = -1;
    utf8proc_ssize_t used = utf8proc_iterate((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &value);
    if (used <= 0) {
        *codepoint = -1;
        return 1;
    }
    *codepoint = value;
    return (size_t)used;
}

void plot_markup_text(FILE *out, const char *s) {
    size_t n = strlen(s);
    for (size_t at = 0; at < n;) {
        int32_t c;
        size_t used = next_codepoint(s + at, n - at, &c);
        if (c == '&') fputs("&amp;", out);
        else if (c == '<') fputs("&lt;", out);
        else if (c == '>') fputs("&gt;", out);
        else if (c == '"') fputs("&quot;", out);
        else if (c == '\'') fputs("&#39;", out);
        else if (c < 0 || (c < 0x20 && c != '\t' && c != '\n') || c == 0x7F || c == 0xFFFE || c == 0xFFFF)
            fputs(replacement, out);
        else fwrite(s + at, 1, used, out);
        at += used;
    }
}

void plot_markup_json_string(FILE *out, const char *s) {
    size_t n = strlen(s);
    fputc('"', out);
    for (size_t at = 0; at < n;) {
        int32_t c;
        size_t used = next_codepoint(s + at, n - at, &c);
        if (c < 0) fputs(replacement, out);
        else if (c == '"') fputs("\\\"", out);
        else if (c == '\\') fputs("\\\\", out);
        else if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0x2028 || c == 0x2029)
            fprintf(out, "\\u%04x", (unsigned)c);
        else fwrite(s + at, 1, used, out);
        at += used;
    }
    fputc('"', out);
}

void plot_markup_colour(FILE *out, lens_rgb c) { fprintf(out, "#%02x%02x%02x", c.r, c.g, c.b); }
