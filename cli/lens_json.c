/*
 * lens_json.c - the lens as one JSON document, schema "loupe.lens/1"
 * (docs/LENS_JSON.md), written by the library (loupe_lens_write_json) so
 * that the command and every binding print the same bytes.
 */
#include "cli.h"
#include "lens_output.h"

int lens_json_print(FILE *out, const lens_view *view) {
    loupe_lens_window window = {view->rows.first, view->rows.end, view->positions.first, view->positions.end};
    char *text = NULL;
    size_t length = 0;
    loupe_error error;
    if (loupe_lens_write_json(view->result, view->tokenizer, view->info, &window, &text, &length, &error) != LOUPE_OK)
        return cli_fail(&error);
    lens_certified_json_write(out, view, text, length); /* the text, with --certify's member */
    loupe_free(text);
    return CLI_EXIT_OK;
}
