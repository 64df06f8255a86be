/*
 * lens_view.c - the accessors through which every renderer reads a lens,
 * whether it comes from a run (loupe_lens_result) or from a saved JSON
 * document (loupe_lens_saved, which holds only the cells of its window).
 */
#include "lens_output.h"

const loupe_lens_cell *lens_view_cell(const lens_view *view, int row, int position) {
    if (view->saved != NULL) return loupe_lens_saved_cell(view->saved, row, position);
    return loupe_lens_cell_at(view->result, row, position);
}

const char *lens_view_row_name(const lens_view *view, int row) {
    if (view->saved != NULL) return view->saved->row_names[row - view->saved->row_first];
    return loupe_lens_row_name(view->result, row);
}

int32_t lens_view_input_id(const lens_view *view, int position) {
    if (view->saved != NULL) return view->saved->ids[position - view->saved->position_first];
    return loupe_lens_ids(view->result)[position];
}

/* Every cell of a column knows the true next token and the final top-1, so
 * any shown row answers for its position (the final row may lie outside a
 * saved window). */
int32_t lens_view_next_id(const lens_view *view, int position) {
    return lens_view_cell(view, view->rows.first, position)->target.id;
}

bool lens_view_final_is_next(const lens_view *view, int position) {
    const loupe_lens_cell *cell = lens_view_cell(view, view->rows.first, position);
    return cell->target.id >= 0 && cell->final_top.id == cell->target.id;
}
