/*
 * lens_rows.c - which taps the lens reads and what each row is called.
 *
 * Per block N the rows come in the order the block computes them: with
 * contributions hN.attn_out (what the attention adds), with sub-blocks
 * hN.attn (the residual after it), with contributions hN.mlp_out (what the
 * MLP adds), then hN (the residual after the block).
 */
#include <stdio.h>

#include "loupe.h"

int loupe_lens_row_count(int n_layer, bool subblocks) { return loupe_lens_row_count_with(n_layer, subblocks, false); }

int loupe_lens_row_count_with(int n_layer, bool subblocks, bool contributions) {
    return 1 + n_layer * (1 + (subblocks ? 1 : 0) + (contributions ? 2 : 0));
}

size_t loupe_lens_row_label(int n_layer, bool subblocks, int row, char *buffer, size_t capacity) {
    return loupe_lens_row_label_with(n_layer, subblocks, false, row, buffer, capacity);
}

size_t loupe_lens_row_label_with(int n_layer, bool subblocks, bool contributions, int row, char *buffer,
                                 size_t capacity) {
    const char *kinds[4];
    int per_block = 0;
    if (contributions) kinds[per_block++] = ".attn_out";
    if (subblocks) kinds[per_block++] = ".attn";
    if (contributions) kinds[per_block++] = ".mlp_out";
    kinds[per_block++] = "";
    int written;
    if (row < 0 || row >= loupe_lens_row_count_with(n_layer, subblocks, contributions))
        written = snprintf(buffer, capacity, "%s", "");
    else if (row == 0)
        written = snprintf(buffer, capacity, "input");
    else
        written = snprintf(buffer, capacity, "h%d%s", (row - 1) / per_block + 1, kinds[(row - 1) % per_block]);
    return written < 0 ? 0 : (size_t)written;
}
