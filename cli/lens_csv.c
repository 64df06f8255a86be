/*
 * lens_csv.c - the lens as CSV: a header line, then one line per (row,
 * position) in row order, positions inner (docs/LENS_OUTPUT.md). Text
 * fields are quoted as RFC 4180 asks (fields holding a comma, a quote, CR or
 * LF are quoted and inner quotes doubled); lines end with LF. With --topk K
 * the top2 .. topK tokens follow as three columns each. Token text is
 * the token's bytes, a byte that is not valid UTF-8 written as <0xNN>.
 */
#include <math.h>
#include <string.h>

#include "cli.h"
#include "lens_output.h"

static const char header[] =
    "layer_index,layer,position,input_id,input_text,target_id,target_text,top1_id,top1_text,top1_prob,"
    "target_prob,target_logit,target_rank,input_prob,input_rank,final_top_id,final_top_prob,final_top_rank,"
    "entropy,kl_final,kl_final_rev,kl_first,kl_first_rev\n";

/* One text field of length bytes, preceded by a comma. */
static void write_text(FILE *out, const char *s, size_t length) {
    fputc(',', out);
    bool quoted = false;
    for (size_t i = 0; i < length && !quoted; i++)
        quoted = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
    if (!quoted) {
        cli_write_text(out, s, length, false);
        return;
    }
    fputc('"', out);
    size_t start = 0;
    for (size_t i = 0; i < length; i++) {
        if (s[i] != '"') continue;
        /* a quote never sits inside a UTF-8 sequence, so splitting here is safe */
        cli_write_text(out, s + start, i - start, false);
        fputs("\"\"", out);
        start = i + 1;
    }
    cli_write_text(out, s + start, length - start, false);
    fputc('"', out);
}

/* The text of token id as a field; an empty field for id -1. */
static void write_token_text(FILE *out, const lens_view *view, int32_t id) {
    size_t length = 0;
    const char *bytes = id >= 0 ? loupe_tokenizer_token_bytes(view->tokenizer, id, &length) : NULL;
    write_text(out, bytes ? bytes : "", bytes ? length : 0);
}

static void write_float(FILE *out, double value) {
    fputc(',', out);
    if (isfinite(value)) fprintf(out, "%.9g", value);
}

void lens_csv_print(FILE *out, const lens_view *view, int top_columns) {
    if (top_columns > 1) {
        fwrite(header, 1, sizeof header - 2, out); /* without its newline */
        for (int k = 2; k <= top_columns; k++) fprintf(out, ",top%d_id,top%d_text,top%d_prob", k, k, k);
        fputc('\n', out);
    } else {
        fputs(header, out);
    }
    for (int row = view->rows.first; row < view->rows.end; row++) {
        const char *name = lens_view_row_name(view, row);
        for (int t = view->positions.first; t < view->positions.end; t++) {
            const loupe_lens_cell *cell = lens_view_cell(view, row, t);
            bool has_target = cell->target.id >= 0;
            fprintf(out, "%d", row);
            write_text(out, name, strlen(name));
            fprintf(out, ",%d,%d", t, lens_view_input_id(view, t));
            write_token_text(out, view, lens_view_input_id(view, t));
            if (has_target) fprintf(out, ",%d", cell->target.id);
            else fputc(',', out);
            write_token_text(out, view, cell->target.id);
            fprintf(out, ",%d", cell->top_ids[0]);
            write_token_text(out, view, cell->top_ids[0]);
            write_float(out, cell->top_probs[0]);
            if (has_target) {
                write_float(out, cell->target.prob);
                write_float(out, cell->target.logit);
                fprintf(out, ",%d", cell->target.rank);
            } else {
                fputs(",,,", out);
            }
            write_float(out, cell->input.prob);
            fprintf(out, ",%d,%d", cell->input.rank, cell->final_top.id);
            write_float(out, cell->final_top.prob);
            fprintf(out, ",%d", cell->final_top.rank);
            write_float(out, cell->entropy);
            write_float(out, cell->kl_final);
            write_float(out, cell->kl_final_rev);
            write_float(out, cell->kl_first);
            write_float(out, cell->kl_first_rev);
            for (int k = 1; k < top_columns; k++) {
                if (k < cell->n_top) {
                    fprintf(out, ",%d", cell->top_ids[k]);
                    write_token_text(out, view, cell->top_ids[k]);
                    write_float(out, cell->top_probs[k]);
                } else {
                    fputs(",,,", out); /* a vocabulary smaller than K */
                }
            }
            fputc('\n', out);
        }
    }
}
