/*
 * lens_text.c - UTF-8 text for the lens outputs: terminal widths, cutting a
 * token to a column with an ellipsis, writing bytes as valid UTF-8, and the
 * width of the terminal.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <utf8proc.h>

#include "lens_output.h"

static const char ellipsis[] = "\xE2\x80\xA6"; /* U+2026, one column */

/* The next character of s (n bytes left): its byte length (at least 1) and
 * its terminal width in *width; a byte that starts no valid character counts
 * as one column, like the <0xNN> a renderer would show in its place. */
static size_t next_character(const char *s, size_t n, int *width) {
    utf8proc_int32_t codepoint = -1;
    utf8proc_ssize_t used = utf8proc_iterate((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &codepoint);
    if (used <= 0) {
        *width = 1;
        return 1;
    }
    *width = utf8proc_charwidth(codepoint);
    return (size_t)used;
}

int lens_text_width(const char *s) {
    size_t n = strlen(s);
    int total = 0;
    for (size_t at = 0; at < n;) {
        int width;
        at += next_character(s + at, n - at, &width);
        total += width;
    }
    return total;
}

int lens_text_fit(const char *s, int max_width, char *buffer, size_t capacity) {
    if (capacity == 0) return 0;
    buffer[0] = '\0';
    if (max_width <= 0) return 0;
    size_t n = strlen(s);
    int full_width = lens_text_width(s);
    bool cut = full_width > max_width;
    int budget = cut ? max_width - 1 : max_width; /* leave a column for the ellipsis */
    size_t at = 0, kept = 0;
    int width = 0;
    while (at < n) {
        int character_width;
        size_t used = next_character(s + at, n - at, &character_width);
        if (width + character_width > budget || at + used + sizeof ellipsis > capacity) {
            cut = true;
            break;
        }
        width += character_width;
        at += used;
        kept = at;
    }
    memcpy(buffer, s, kept);
    buffer[kept] = '\0';
    if (cut && kept + sizeof ellipsis <= capacity && width < max_width) {
        memcpy(buffer + kept, ellipsis, sizeof ellipsis);
        width += 1;
    }
    return width;
}

int lens_text_terminal_width(void) {
    struct winsize size;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
    const char *columns = getenv("COLUMNS");
    if (columns != NULL) {
        char *end = NULL;
        long value = strtol(columns, &end, 10);
        if (end != columns && *end == '\0' && value > 0 && value <= 100000) return (int)value;
    }
    return 120;
}
