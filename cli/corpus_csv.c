/*
 * corpus_csv.c - the per-layer part of a corpus report as CSV (RFC 4180,
 * docs/CORPUS.md): one line per layer and metric, the numbers as the JSON
 * writes them (%.9g; empty where the JSON has null).
 */
#include <math.h>
#include <string.h>

#include "corpus_output.h"

/* A field: quoted (with "" for ") when it holds a comma, a quote, CR or LF. */
static void write_field(FILE *out, const char *text) {
    if (strpbrk(text, ",\"\r\n") == NULL) {
        fputs(text, out);
        return;
    }
    fputc('"', out);
    for (const char *c = text; *c; c++) {
        if (*c == '"') fputc('"', out);
        fputc(*c, out);
    }
    fputc('"', out);
}

/* A number as the JSON writes it, nothing for a non-finite one (JSON null). */
static void write_number(FILE *out, double value) {
    if (isfinite(value)) fprintf(out, "%.9g", value);
}

/* "layer,metric," of a line. */
static void write_key(FILE *out, const char *layer, const char *metric) {
    write_field(out, layer);
    fputc(',', out);
    write_field(out, metric);
    fputc(',', out);
}

/* The per-row numbers other than summaries: layer,name,,value,,,, per row. */
static void write_row_values(FILE *out, const corpus_report *report, const char *name,
                             double (*value)(const loupe_corpus_stats *, int)) {
    for (int row = 0; row < report->n_rows; row++) {
        write_key(out, report->row_names[row], name);
        fputc(',', out);
        write_number(out, value(report->stats, row));
        fputs(",,,,\r\n", out);
    }
}

void corpus_csv_print(FILE *out, corpus_report *report) {
    fputs("layer,metric,count,mean,p10,median,p90,exact\r\n", out);
    for (int m = 0; m < LOUPE_CORPUS_METRIC_COUNT; m++) {
        for (int row = 0; row < report->n_rows; row++) {
            loupe_corpus_summary s = loupe_corpus_stats_summary(report->stats, row, (loupe_corpus_metric)m);
            write_key(out, report->row_names[row], loupe_corpus_metric_name((loupe_corpus_metric)m));
            fprintf(out, "%lld,", (long long)s.count);
            write_number(out, s.mean);
            fputc(',', out);
            write_number(out, s.p10);
            fputc(',', out);
            write_number(out, s.median);
            fputc(',', out);
            write_number(out, s.p90);
            fprintf(out, ",%s\r\n", s.exact ? "true" : "false");
        }
    }
    write_row_values(out, report, "ce_bits_per_byte", loupe_corpus_stats_bits_per_byte);
    write_row_values(out, report, "top1_is_final_top1", loupe_corpus_stats_top1_final);
    write_row_values(out, report, "top1_is_target", loupe_corpus_stats_top1_target);
    for (int row = 0; row < report->n_rows; row++) {
        write_key(out, report->row_names[row], "decision_layer");
        fprintf(out, "%lld,,,,,\r\n", (long long)loupe_corpus_stats_decision_count(report->stats, row));
    }
}
