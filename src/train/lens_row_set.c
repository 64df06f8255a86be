/*
 * lens_row_set.c - parsing the lens rows of the fine-tuning loss
 * (lens_row_set.h).
 */
#include "train/lens_row_set.h"

#include <string.h>

#include "util/error.h"
#include "util/slice_bounds.h"

/* Parses the whole of [text, text + length) as a decimal integer, spaces
 * around it allowed. */
static bool parse_integer(const char *text, size_t length, long *value) {
    while (length > 0 && *text == ' ') text++, length--;
    while (length > 0 && text[length - 1] == ' ') length--;
    return slice_end_parse(text, length, value);
}

/* Whether [text, text + length) holds only spaces. */
static bool blank(const char *text, size_t length) {
    for (size_t k = 0; k < length; k++)
        if (text[k] != ' ') return false;
    return true;
}

loupe_status lens_row_set_parse(const char *text, int L, bool *rows, int *n_selected, loupe_error *error) {
    const bool all = text == NULL || text[0] == '\0';
    for (int l = 0; l < L; l++) rows[l] = all;
    if (n_selected != NULL) *n_selected = all ? L : 0;
    if (all) return LOUPE_OK;
    const char *item = text;
    for (;;) {
        const char *comma = strchr(item, ',');
        const size_t length = comma != NULL ? (size_t)(comma - item) : strlen(item);
        const char *colon = memchr(item, ':', length);
        long first = 0, end = 0;
        bool ok;
        if (colon == NULL) {
            ok = parse_integer(item, length, &first);
            if (ok && (first < -(long)L || first >= L))
                return error_set(error, LOUPE_ERROR_ARGUMENT,
                                 "lens rows '%s': row %ld is not a lens row (they are 0 .. %d; the model's output, "
                                 "row %d, is always in the loss)",
                                 text, first, L - 1, L);
            if (ok) {
                first = slice_end_resolve(first, L);
                end = first + 1;
            }
        } else {
            const size_t first_length = (size_t)(colon - item), end_length = length - first_length - 1;
            ok = memchr(colon + 1, ':', end_length) == NULL;
            if (ok && !blank(item, first_length)) ok = parse_integer(item, first_length, &first);
            if (ok && !blank(colon + 1, end_length)) ok = parse_integer(colon + 1, end_length, &end);
            else end = L;
            first = slice_end_resolve(first, L), end = slice_end_resolve(end, L);
        }
        if (!ok)
            return error_set(error, LOUPE_ERROR_ARGUMENT,
                             "lens rows '%s': expected whole numbers and slices A:B separated by commas, got '%.*s'",
                             text, (int)length, item);
        for (long l = first; l < end; l++) rows[l] = true;
        if (comma == NULL) break;
        item = comma + 1;
    }
    int count = 0;
    for (int l = 0; l < L; l++) count += rows[l];
    if (count == 0)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "lens rows '%s': selects no row out of 0 .. %d", text, L - 1);
    if (n_selected != NULL) *n_selected = count;
    return LOUPE_OK;
}
