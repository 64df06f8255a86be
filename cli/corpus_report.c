/*
 * corpus_report.c - what every writer of a corpus report reads besides the
 * aggregate, filled the same way whether the report comes from a run
 * (loupe corpus) or from saved states (loupe corpus-merge): the row names
 * and the tracked tokens' texts.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "corpus_output.h"

void corpus_report_set_tracked(corpus_report *report, const loupe_tokenizer *tokenizer) {
    for (int k = 0; k < report->n_track; k++) {
        size_t length = 0;
        const char *bytes = loupe_tokenizer_token_bytes(tokenizer, report->track_ids[k], &length);
        if (bytes == NULL) length = 0;
        if (length > sizeof report->track_text[k]) length = sizeof report->track_text[k];
        memcpy(report->track_text[k], bytes ? bytes : "", length);
        report->track_text_length[k] = length;
        loupe_tokenizer_render(tokenizer, report->track_ids[k], report->track_rendered[k],
                               sizeof report->track_rendered[k]);
    }
}

bool corpus_report_set_rows(corpus_report *report, int n_layer) {
    report->n_rows = loupe_lens_row_count(n_layer, report->subblocks);
    report->row_names = calloc((size_t)report->n_rows, sizeof *report->row_names);
    if (report->row_names == NULL) {
        cli_error("out of memory");
        return false;
    }
    for (int row = 0; row < report->n_rows; row++)
        loupe_lens_row_label(n_layer, report->subblocks, row, report->row_names[row], sizeof report->row_names[0]);
    return true;
}

bool corpus_report_parse_format(const char *text, corpus_format *format) {
    static const char *const names[] = {"table", "json", "csv"};
    for (int i = 0; i < 3; i++) {
        if (strcmp(text, names[i]) == 0) {
            *format = (corpus_format)i;
            return true;
        }
    }
    cli_error("--format: expected one of table, json, csv, got '%s'", text);
    return false;
}

void corpus_report_print(FILE *out, corpus_report *report, corpus_format format) {
    if (format == CORPUS_FORMAT_JSON) corpus_json_print(out, report);
    else if (format == CORPUS_FORMAT_CSV) corpus_csv_print(out, report);
    else corpus_table_print(out, report);
}
