/*
 * corpus_compare.c - `loupe corpus --tuned LENSDIR --compare-lenses`: the
 * logit lens and the tuned lens over the same positions, side by side per
 * layer, as a table or as JSON "loupe.corpus_compare/1" (docs/TUNED_LENS.md).
 *
 * Shapes: R lens rows, the same in both reports.
 */
#include <math.h>
#include <stdio.h>

#include "corpus_output.h"

/* One pair of columns: "logit tuned" of a per-row quantity. */
typedef double (*row_value_fn)(corpus_report *report, int row);

static double mean_ce(corpus_report *report, int row) {
    return loupe_corpus_stats_summary(report->stats, row, LOUPE_CORPUS_CE).mean;
}

static double bits_per_byte(corpus_report *report, int row) {
    return loupe_corpus_stats_bits_per_byte(report->stats, row);
}

static double mean_kl_final(corpus_report *report, int row) {
    return loupe_corpus_stats_summary(report->stats, row, LOUPE_CORPUS_KL_FINAL).mean;
}

static double median_target_rank(corpus_report *report, int row) {
    return loupe_corpus_stats_summary(report->stats, row, LOUPE_CORPUS_TARGET_RANK).median;
}

static double top1_target(corpus_report *report, int row) {
    return loupe_corpus_stats_top1_target(report->stats, row);
}

enum { COMPARE_COLUMNS = 5 };

static const struct {
    const char *title;
    row_value_fn value;
    bool difference; /* also tuned - logit */
} columns[COMPARE_COLUMNS] = {
    {"CE (nats)", mean_ce, true},
    {"bits/byte", bits_per_byte, true},
    {"KL(final||layer)", mean_kl_final, false},
    {"target rank median", median_target_rank, false},
    {"top1=target", top1_target, false},
};

void corpus_compare_table_print(FILE *out, corpus_report *logit, corpus_report *tuned) {
    corpus_table_print_totals(out, tuned);
    fputs("\nper layer, the logit lens beside the tuned lens (CE: mean cross-entropy of the next token;\n"
          "bits/byte: CE x positions / bytes of the targets / ln 2; diff: tuned - logit, below 0 where the\n"
          "tuned lens predicts better)\n\n",
          out);
    fprintf(out, "%-8s", "");
    for (int c = 0; c < COMPARE_COLUMNS; c++)
        fprintf(out, " | %-*s", columns[c].difference ? 29 : 19, columns[c].title);
    fprintf(out, "\n%-8s", "layer");
    for (int c = 0; c < COMPARE_COLUMNS; c++) {
        fprintf(out, " | %9s %9s", "logit", "tuned");
        if (columns[c].difference) fprintf(out, " %9s", "diff");
    }
    fputc('\n', out);
    for (int row = 0; row < tuned->n_rows; row++) {
        fprintf(out, "%-8s", tuned->row_names[row]);
        for (int c = 0; c < COMPARE_COLUMNS; c++) {
            double a = columns[c].value(logit, row), b = columns[c].value(tuned, row);
            char v[3][32];
            fprintf(out, " | %9s %9s", corpus_format_value(a, v[0], 32), corpus_format_value(b, v[1], 32));
            if (columns[c].difference) fprintf(out, " %9s", corpus_format_value(b - a, v[2], 32));
        }
        fputc('\n', out);
    }
    fprintf(out, "\n%lld positions, %lld bytes of targets; the last row is the model's output in both lenses\n",
            (long long)loupe_corpus_stats_positions(tuned->stats),
            (long long)loupe_corpus_stats_target_bytes(tuned->stats));
}

void corpus_compare_json_print(FILE *out, corpus_report *logit, corpus_report *tuned) {
    fprintf(out, "{\"schema\": \"loupe.corpus_compare/1\",\n \"partial\": %s,\n \"logit\": ",
            logit->partial || tuned->partial ? "true" : "false");
    corpus_json_print(out, logit);
    fputs(",\n \"tuned\": ", out);
    corpus_json_print(out, tuned);
    fputs("}\n", out);
}
