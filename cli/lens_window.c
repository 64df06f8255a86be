/*
 * lens_window.c - Python-style slices "A:B" over lens rows and positions.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lens_output.h"

/* Parses the whole of [text, text + length) as a decimal integer. */
static bool parse_end(const char *text, size_t length, long *value) {
    char digits[32];
    if (length == 0 || length >= sizeof digits) return false;
    memcpy(digits, text, length);
    digits[length] = '\0';
    char *end = NULL;
    errno = 0;
    long parsed = strtol(digits, &end, 10);
    if (errno != 0 || end == digits || *end != '\0') return false;
    if (parsed < -(long)INT_MAX || parsed > INT_MAX) return false;
    *value = parsed;
    return true;
}

bool lens_slice_parse(const char *option, const char *text, lens_slice *slice) {
    memset(slice, 0, sizeof *slice);
    const char *colon = strchr(text, ':');
    bool ok = colon != NULL && strchr(colon + 1, ':') == NULL;
    if (ok) {
        size_t first_length = (size_t)(colon - text), end_length = strlen(colon + 1);
        slice->has_first = first_length > 0;
        slice->has_end = end_length > 0;
        if (slice->has_first) ok = parse_end(text, first_length, &slice->first);
        if (ok && slice->has_end) ok = parse_end(colon + 1, end_length, &slice->end);
    }
    if (!ok) cli_error("%s: expected a slice A:B of whole numbers (either may be left out), got '%s'", option, text);
    return ok;
}

/* A slice end resolved as Python does: negative counts from n, then clamped. */
static int resolve_end(long value, int n) {
    if (value < 0) value += n;
    if (value < 0) return 0;
    if (value > n) return n;
    return (int)value;
}

bool lens_slice_resolve(const char *option, const lens_slice *slice, int n, lens_window *window) {
    window->first = slice->has_first ? resolve_end(slice->first, n) : 0;
    window->end = slice->has_end ? resolve_end(slice->end, n) : n;
    if (window->end <= window->first) {
        cli_error("%s: the slice selects nothing out of %d (valid indices are 0 .. %d)", option, n, n - 1);
        return false;
    }
    return true;
}
