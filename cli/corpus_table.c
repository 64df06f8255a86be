/*
 * corpus_table.c - a corpus run as text for the terminal: the run's totals,
 * per-layer agreement and decision layers, per-metric quantiles, and with
 * counts the rarity tables and Spearman's rho.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "corpus_output.h"

const char *corpus_format_value(double value, char *buffer, size_t capacity) {
    if (!isfinite(value)) snprintf(buffer, capacity, "-");
    else if (fabs(value) >= 1e4 && fabs(value) < 1e9) snprintf(buffer, capacity, "%.0f", value);
    else snprintf(buffer, capacity, "%.4g", value);
    return buffer;
}

void corpus_table_print_totals(FILE *out, const corpus_report *report) {
    const char *name = strrchr(report->info->directory, '/');
    name = name && name[1] ? name + 1 : report->info->directory;
    fprintf(out, "loupe corpus%s: %s (%s), %lld positions scored in %lld windows of %lld documents",
            report->partial ? " (PARTIAL: stopped early)" : "", name, report->info->activation,
            (long long)report->positions, (long long)report->n_windows, (long long)report->documents);
    if (report->skipped_lines > 0) fprintf(out, ", %lld malformed lines skipped", (long long)report->skipped_lines);
    fprintf(out, "\nwindows: context %d, stride %d, min-context %d", report->windows.context, report->windows.stride,
            report->windows.min_context);
    if (report->max_tokens > 0) fprintf(out, ", max-tokens %lld", (long long)report->max_tokens);
    fprintf(out, "; %.1f s\n", report->seconds);
    if (report->tuned_directory != NULL) fprintf(out, "lens: the tuned lens of %s\n", report->tuned_directory);
}

/* Per row: top-1 agreement with the final top-1 and the next token, decisions. */
static void print_agreement(FILE *out, const corpus_report *report) {
    fputs("\nper layer: how often its top-1 is the final top-1 / the true next token, and the decision\n"
          "layer (the first layer from which the final top-1 stays top-1) as a histogram\n\n", out);
    fprintf(out, "%-8s %12s %12s %10s %8s\n", "layer", "top1=final", "top1=target", "decided", "share");
    int64_t n = loupe_corpus_stats_positions(report->stats);
    for (int row = 0; row < report->n_rows; row++) {
        int64_t decided = loupe_corpus_stats_decision_count(report->stats, row);
        char a[32], b[32], c[32];
        fprintf(out, "%-8s %12s %12s %10lld %8s\n", report->row_names[row],
                corpus_format_value(loupe_corpus_stats_top1_final(report->stats, row), a, sizeof a),
                corpus_format_value(loupe_corpus_stats_top1_target(report->stats, row), b, sizeof b),
                (long long)decided,
                corpus_format_value(n ? (double)decided / (double)n : NAN, c, sizeof c));
    }
}

/* Up to three metrics side by side: mean, p10, median, p90 per layer; then
 * the cross-entropy with its bits per byte. */
static void print_metrics(FILE *out, corpus_report *report) {
    static const char *const titles[LOUPE_CORPUS_METRIC_COUNT] = {
        "rank of target",   "prob of target",     "rank of input",      "prob of input", "KL(final||layer)",
        "KL(layer||final)", "KL(input||layer)",   "KL(layer||input)",   "entropy (nats)",
        "cross-entropy of the target (nats)",
    };
    bool exact = true;
    for (int m = 0; m < LOUPE_CORPUS_CE; m += 3) {
        fprintf(out, "\n%-8s", "");
        for (int k = m; k < m + 3; k++) fprintf(out, " | %-39s", titles[k]);
        fprintf(out, "\n%-8s", "layer");
        for (int k = m; k < m + 3; k++) fprintf(out, " | %9s %9s %9s %9s", "mean", "p10", "median", "p90");
        fputc('\n', out);
        for (int row = 0; row < report->n_rows; row++) {
            fprintf(out, "%-8s", report->row_names[row]);
            for (int k = m; k < m + 3; k++) {
                loupe_corpus_summary s = loupe_corpus_stats_summary(report->stats, row, (loupe_corpus_metric)k);
                exact = exact && s.exact;
                char v[4][32];
                fprintf(out, " | %9s %9s %9s %9s", corpus_format_value(s.mean, v[0], 32),
                        corpus_format_value(s.p10, v[1], 32), corpus_format_value(s.median, v[2], 32),
                        corpus_format_value(s.p90, v[3], 32));
            }
            fputc('\n', out);
        }
    }
    fprintf(out, "\n%-8s | %-39s | %9s\n%-8s | %9s %9s %9s %9s | %9s\n", "", titles[LOUPE_CORPUS_CE], "bits/byte",
            "layer", "mean", "p10", "median", "p90", "");
    for (int row = 0; row < report->n_rows; row++) {
        loupe_corpus_summary s = loupe_corpus_stats_summary(report->stats, row, LOUPE_CORPUS_CE);
        exact = exact && s.exact;
        char v[5][32];
        fprintf(out, "%-8s | %9s %9s %9s %9s | %9s\n", report->row_names[row],
                corpus_format_value(s.mean, v[0], 32), corpus_format_value(s.p10, v[1], 32),
                corpus_format_value(s.median, v[2], 32), corpus_format_value(s.p90, v[3], 32),
                corpus_format_value(loupe_corpus_stats_bits_per_byte(report->stats, row), v[4], 32));
    }
    fprintf(out, "bits/byte: mean cross-entropy x positions / bytes of the targets (%lld) / ln 2\n",
            (long long)loupe_corpus_stats_target_bytes(report->stats));
    if (exact) fputs("\nquantiles: exact (numpy method=\"lower\")\n", out);
    else
        fprintf(out, "\nquantiles: from a sketch, within %g relative error of the exact (numpy method=\"lower\")\n",
                report->stats_params.sketch_error);
}

/* A bucket edge in a few columns: 100, 10k, 1M. */
static void format_edge(double edge, char *buffer, size_t capacity) {
    if (edge >= 1e6) snprintf(buffer, capacity, "%gM", edge / 1e6);
    else if (edge >= 1e3) snprintf(buffer, capacity, "%gk", edge / 1e3);
    else snprintf(buffer, capacity, "%g", edge);
}

/* One rarity table: rows = layers, columns = frequency buckets; the median
 * or the mean of `metric`. */
static void print_bucket_table(FILE *out, corpus_report *report, loupe_corpus_metric metric, bool median,
                               const char *title) {
    int n_buckets = loupe_corpus_stats_n_buckets(report->stats);
    fprintf(out, "\n%s\n%-8s", title, "layer");
    for (int b = 0; b < n_buckets; b++) {
        double low, high;
        loupe_corpus_stats_bucket_edges(report->stats, b, &low, &high);
        char from[16], to[16], label[40];
        format_edge(low, from, sizeof from);
        format_edge(high, to, sizeof to);
        snprintf(label, sizeof label, "[%s,%s)", from, to);
        fprintf(out, " %12s", label);
    }
    fputc('\n', out);
    for (int row = 0; row < report->n_rows; row++) {
        fprintf(out, "%-8s", report->row_names[row]);
        for (int b = 0; b < n_buckets; b++) {
            loupe_corpus_summary s = loupe_corpus_stats_bucket_summary(report->stats, b, row, metric);
            char v[32];
            fprintf(out, " %12s", corpus_format_value(median ? s.median : s.mean, v, sizeof v));
        }
        fputc('\n', out);
    }
}

/* The rarity section: bucket sizes, three bucket tables, rho per row. */
static void print_rarity(FILE *out, corpus_report *report) {
    int n_buckets = loupe_corpus_stats_n_buckets(report->stats);
    fprintf(out, "\nrarity: the input token's frequency in %s, in buckets [low, high)\n%-8s", report->counts_path,
            "positions");
    for (int b = 0; b < n_buckets; b++)
        fprintf(out, " %12lld",
                (long long)loupe_corpus_stats_bucket_summary(report->stats, b, 0, LOUPE_CORPUS_INPUT_RANK).count);
    fputc('\n', out);
    print_bucket_table(out, report, LOUPE_CORPUS_INPUT_RANK, true, "median rank of the input token");
    print_bucket_table(out, report, LOUPE_CORPUS_INPUT_PROB, false, "mean probability of the input token");
    print_bucket_table(out, report, LOUPE_CORPUS_KL_FIRST, false, "mean KL(input || layer)");
    fputs("\nSpearman's rho between the input token's corpus frequency and its rank (rho > 0: rarer\n"
          "input tokens keep better ranks), 95 % interval (Fisher z), over a sample of positions\n\n",
          out);
    fprintf(out, "%-8s %8s %10s %10s %10s\n", "layer", "n", "rho", "low", "high");
    for (int row = 0; row < report->n_rows; row++) {
        loupe_corpus_correlation rho = loupe_corpus_stats_spearman(report->stats, row);
        char a[32], b[32], c[32];
        fprintf(out, "%-8s %8lld %10s %10s %10s\n", report->row_names[row], (long long)rho.n,
                corpus_format_value(rho.defined ? rho.rho : NAN, a, sizeof a),
                corpus_format_value(rho.defined ? rho.low : NAN, b, sizeof b),
                corpus_format_value(rho.defined ? rho.high : NAN, c, sizeof c));
    }
}

/* Per tracked token (--track) and layer: its rank's mean and quantiles, its
 * mean probability and how often it is the layer's top-1. */
static void print_tracked(FILE *out, corpus_report *report) {
    for (int k = 0; k < report->n_track; k++) {
        fprintf(out, "\ntracked token %d: %s (id %d)\n", k + 1, report->track_rendered[k], report->track_ids[k]);
        fprintf(out, "%-8s | %9s %9s %9s %9s | %9s | %9s\n", "", "rank mean", "p10", "median", "p90", "mean prob",
                "top1");
        for (int row = 0; row < report->n_rows; row++) {
            loupe_corpus_summary rank =
                loupe_corpus_stats_tracked_summary(report->stats, k, row, LOUPE_CORPUS_TRACKED_RANK);
            loupe_corpus_summary prob =
                loupe_corpus_stats_tracked_summary(report->stats, k, row, LOUPE_CORPUS_TRACKED_PROB);
            char v[6][32];
            fprintf(out, "%-8s | %9s %9s %9s %9s | %9s | %9s\n", report->row_names[row],
                    corpus_format_value(rank.mean, v[0], 32), corpus_format_value(rank.p10, v[1], 32),
                    corpus_format_value(rank.median, v[2], 32), corpus_format_value(rank.p90, v[3], 32),
                    corpus_format_value(prob.mean, v[4], 32),
                    corpus_format_value(loupe_corpus_stats_tracked_top1(report->stats, k, row), v[5], 32));
        }
    }
}

void corpus_table_print(FILE *out, corpus_report *report) {
    corpus_table_print_totals(out, report);
    print_agreement(out, report);
    print_metrics(out, report);
    print_tracked(out, report);
    if (loupe_corpus_stats_n_buckets(report->stats) > 0) print_rarity(out, report);
}
