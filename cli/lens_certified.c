/*
 * lens_certified.c - `loupe lens --certify`: runs the certified lens
 * (src/interval/certified_lens.h) beside the ordinary one and writes its
 * intervals into the JSON document (docs/INTERVALS.md).
 */
#include <math.h>
#include <stdio.h>

#include "cli.h"
#include "lens_output.h"
#include "loupe_internal.h"

bool lens_certified_weight_radius(const char *text, double *radius) {
    if (ball_weight_radius_parse(text, radius) == 0) return true;
    cli_error("--weight-radius: expected a number from 0 to below 1, bf16 or f16, got '%s'", text);
    return false;
}

int lens_certified_run(const loupe_model *model, const int32_t *ids, int n_ids, bool subblocks,
                       double weight_radius, certified_lens **certified) {
    loupe_error error;
    if (certified_lens_run(model, ids, n_ids, subblocks, weight_radius, NULL, certified, &error) != LOUPE_OK)
        return cli_fail(&error);
    return CLI_EXIT_OK;
}

static void write_interval(FILE *out, const char *name, const float bounds[2]) {
    fprintf(out, ", \"%s\": [", name);
    cli_json_number(out, bounds[0]);
    fputs(", ", out);
    cli_json_number(out, bounds[1]);
    fputc(']', out);
}

/* One cell's intervals as a JSON object. */
static void write_cell(FILE *out, const certified_cell *cell) {
    if (cell->top1 >= 0) fprintf(out, "{\"top1\": %d", cell->top1);
    else fputs("{\"top1\": null", out); /* its logit is unbounded: nothing is known */
    fprintf(out, ", \"top1_certain\": %s, \"certainty\": ", cell->top1_certain ? "true" : "false");
    cli_json_number(out, cell->certainty);
    fputs(", \"radius\": ", out);
    cli_json_number(out, cell->radius);
    if (cell->has_target) {
        write_interval(out, "target_logit", cell->target_logit);
        write_interval(out, "target_prob", cell->target_prob);
        fprintf(out, ", \"target_rank\": [%d, %d]", cell->target_rank[0], cell->target_rank[1]);
    }
    write_interval(out, "input_logit", cell->input_logit);
    write_interval(out, "input_prob", cell->input_prob);
    fprintf(out, ", \"input_rank\": [%d, %d]", cell->input_rank[0], cell->input_rank[1]);
    write_interval(out, "entropy", cell->entropy);
    write_interval(out, "kl_final", cell->kl_final);
    write_interval(out, "kl_final_rev", cell->kl_final_rev);
    write_interval(out, "kl_first", cell->kl_first);
    write_interval(out, "kl_first_rev", cell->kl_first_rev);
    fputc('}', out);
}

void lens_certified_json_write(FILE *out, const lens_view *view, const char *text, size_t length) {
    const certified_lens *lens = view->certified;
    size_t close = length;
    while (lens != NULL && close > 0 && text[close - 1] != '}') close--;
    if (lens == NULL || close == 0) {
        fwrite(text, 1, length, out);
        return;
    }
    fwrite(text, 1, close - 1, out);
    fputs(",\n \"certified\": {\"weight_radius\": ", out);
    cli_json_number(out, lens->weight_radius);
    fputs(", \"rows\": [", out);
    for (int row = view->rows.first; row < view->rows.end; row++) {
        const certified_row *r = &lens->rows[row];
        fputs(row > view->rows.first ? ", {\"radius\": {\"median\": " : "{\"radius\": {\"median\": ", out);
        cli_json_number(out, r->radius_median);
        fputs(", \"max\": ", out);
        cli_json_number(out, r->radius_max);
        fputs("}}", out);
    }
    fputs("],\n  \"cells\": [", out);
    for (int row = view->rows.first; row < view->rows.end; row++) {
        fputs(row > view->rows.first ? ",\n   [" : "\n   [", out);
        for (int t = view->positions.first; t < view->positions.end; t++) {
            if (t > view->positions.first) fputs(",\n    ", out);
            write_cell(out, certified_lens_cell(lens, row, t));
        }
        fputc(']', out);
    }
    fputs("]}", out);
    fwrite(text + close - 1, 1, length - (close - 1), out);
}
