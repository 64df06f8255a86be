/*
 * lens_window.c - Python-style slices "A:B" over lens rows and positions.
 */
#include <string.h>

#include "cli.h"
#include "lens_output.h"
#include "loupe_internal.h"

bool lens_slice_parse(const char *option, const char *text, lens_slice *slice) {
    memset(slice, 0, sizeof *slice);
    const char *colon = strchr(text, ':');
    bool ok = colon != NULL && strchr(colon + 1, ':') == NULL;
    if (ok) {
        size_t first_length = (size_t)(colon - text), end_length = strlen(colon + 1);
        slice->has_first = first_length > 0;
        slice->has_end = end_length > 0;
        if (slice->has_first) ok = slice_end_parse(text, first_length, &slice->first);
        if (ok && slice->has_end) ok = slice_end_parse(colon + 1, end_length, &slice->end);
    }
    if (!ok) cli_error("%s: expected a slice A:B of whole numbers (either may be left out), got '%s'", option, text);
    return ok;
}

bool lens_slice_resolve(const char *option, const lens_slice *slice, int n, lens_window *window) {
    window->first = slice->has_first ? slice_end_resolve(slice->first, n) : 0;
    window->end = slice->has_end ? slice_end_resolve(slice->end, n) : n;
    if (window->end <= window->first) {
        cli_error("%s: the slice selects nothing out of %d (valid indices are 0 .. %d)", option, n, n - 1);
        return false;
    }
    return true;
}
