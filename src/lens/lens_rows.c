/*
 * lens_rows.c - which taps the lens reads and what each row is called.
 */
#include <stdio.h>

#include "loupe.h"

int loupe_lens_row_count(int n_layer, bool subblocks) { return 1 + n_layer * (subblocks ? 2 : 1); }

size_t loupe_lens_row_label(int n_layer, bool subblocks, int row, char *buffer, size_t capacity) {
    int written;
    if (row < 0 || row >= loupe_lens_row_count(n_layer, subblocks))
        written = snprintf(buffer, capacity, "%s", "");
    else if (row == 0)
        written = snprintf(buffer, capacity, "input");
    else if (!subblocks)
        written = snprintf(buffer, capacity, "h%d", row);
    else if (row % 2 == 1)
        written = snprintf(buffer, capacity, "h%d.attn", (row + 1) / 2);
    else
        written = snprintf(buffer, capacity, "h%d", row / 2);
    return written < 0 ? 0 : (size_t)written;
}
