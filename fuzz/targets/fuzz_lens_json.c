/*
 * fuzz_lens_json.c - the lens JSON that `loupe plot` reads, on any bytes:
 * loupe_lens_read_json either refuses the document with a one-line error or
 * returns a lens whose every cell inside its window is readable and whose
 * ranks, probabilities and top lists are within their documented bounds.
 */
#include <math.h>

#include "fuzz_target.h"
#include "loupe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    loupe_lens_saved *saved = NULL;
    loupe_error error;
    loupe_status status = loupe_lens_read_json((const char *)data, size, "lens.json", &saved, &error);
    fuzz_check_error(status, &error);
    if (status != LOUPE_OK) {
        if (saved != NULL) fuzz_fail("a refused document still returned a lens");
        return 0;
    }
    if (saved->row_end <= saved->row_first || saved->position_end <= saved->position_first)
        fuzz_fail("an accepted lens with an empty window");
    for (int row = saved->row_first; row < saved->row_end; row++) {
        if (saved->row_names[row - saved->row_first] == NULL) fuzz_fail("a row without a name");
        for (int position = saved->position_first; position < saved->position_end; position++) {
            const loupe_lens_cell *cell = loupe_lens_saved_cell(saved, row, position);
            if (cell == NULL) fuzz_fail("a cell inside the window is missing");
            if (cell->n_top < 0 || cell->n_top > saved->topk) fuzz_fail("more top tokens than topk");
            for (int k = 0; k < cell->n_top; k++)
                if (!(cell->top_probs[k] >= 0.0f && cell->top_probs[k] <= 1.0f)) fuzz_fail("a top prob outside [0, 1]");
            if (cell->input.rank < 1) fuzz_fail("an input rank below 1");
        }
    }
    loupe_lens_saved_free(saved);
    return 0;
}
