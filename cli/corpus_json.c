/*
 * corpus_json.c - a corpus run as one JSON document, schema
 * "loupe.corpus/1" (docs/CORPUS.md). Non-finite numbers (statistics of no
 * positions) are null.
 */
#include <math.h>
#include <string.h>

#include "cli.h"
#include "corpus_output.h"

/* A C string as a JSON string. */
static void write_string(FILE *out, const char *s) { cli_json_string(out, s, strlen(s)); }

/* {"count", "mean", "p10", "median", "p90", "exact"} of one series. */
static void write_summary(FILE *out, const loupe_corpus_summary *summary) {
    fprintf(out, "{\"count\": %lld, \"mean\": ", (long long)summary->count);
    cli_json_number(out, summary->mean);
    fputs(", \"p10\": ", out);
    cli_json_number(out, summary->p10);
    fputs(", \"median\": ", out);
    cli_json_number(out, summary->median);
    fputs(", \"p90\": ", out);
    cli_json_number(out, summary->p90);
    fprintf(out, ", \"exact\": %s}", summary->exact ? "true" : "false");
}

/* The fields before "layers": schema, partial, model, corpus, options. */
static void write_header(FILE *out, const corpus_report *report) {
    const loupe_model_info *info = report->info;
    size_t end = strlen(info->directory);
    while (end > 1 && info->directory[end - 1] == '/') end--;
    size_t start = end;
    while (start > 0 && info->directory[start - 1] != '/') start--;
    fputs("{\"schema\": \"loupe.corpus/1\",\n", out);
    fprintf(out, " \"partial\": %s,\n \"model\": {\"name\": ", report->partial ? "true" : "false");
    cli_json_string(out, info->directory + start, end - start);
    fputs(", \"directory\": ", out);
    write_string(out, info->directory);
    fputs(", \"activation\": ", out);
    write_string(out, info->activation);
    fprintf(out, ", \"n_layer\": %d, \"n_vocab\": %d, \"n_ctx\": %d},\n \"corpus\": {\"files\": [", info->n_layer,
            info->n_vocab, info->n_ctx);
    for (int i = 0; i < report->source->n_paths; i++) {
        if (i > 0) fputs(", ", out);
        write_string(out, report->source->paths[i]);
    }
    fprintf(out,
            "], \"documents\": %lld, \"windows\": %lld, \"positions\": %lld, \"target_bytes\": %lld, "
            "\"skipped_lines\": %lld, \"seconds\": %.3f},\n",
            (long long)report->documents, (long long)report->n_windows, (long long)report->positions,
            (long long)loupe_corpus_stats_target_bytes(report->stats), (long long)report->skipped_lines,
            report->seconds);
    fprintf(out, " \"options\": {\"context\": %d, \"stride\": %d, \"min_context\": %d, \"max_tokens\": ",
            report->windows.context, report->windows.stride, report->windows.min_context);
    if (report->max_tokens > 0) fprintf(out, "%lld", (long long)report->max_tokens);
    else fputs("null", out);
    fputs(", \"counts\": ", out);
    if (report->counts_path) write_string(out, report->counts_path);
    else fputs("null", out);
    fprintf(out,
            ", \"subblocks\": %s, \"exact_limit\": %d, \"sketch_error\": %g, \"reservoir_size\": %d, "
            "\"seed\": %llu},\n",
            report->subblocks ? "true" : "false", report->stats_params.exact_limit, report->stats_params.sketch_error,
            report->stats_params.reservoir_size, (unsigned long long)report->stats_params.seed);
    if (report->tuned_directory != NULL) {
        fputs(" \"lens\": {\"kind\": \"tuned\", \"directory\": ", out);
        write_string(out, report->tuned_directory);
        fputs("},\n", out);
    }
}

/* "name": [f(row) for each row] (fractions, bits per byte) */
static void write_row_values(FILE *out, const char *name, const corpus_report *report,
                                double (*fraction)(const loupe_corpus_stats *, int)) {
    fprintf(out, " \"%s\": [", name);
    for (int row = 0; row < report->n_rows; row++) {
        if (row > 0) fputs(", ", out);
        cli_json_number(out, fraction(report->stats, row));
    }
    fputs("],\n", out);
}

/* "rarity": the frequency buckets with their summaries per row, and rho per row. */
static void write_rarity(FILE *out, corpus_report *report) {
    loupe_corpus_stats *stats = report->stats;
    int n_buckets = loupe_corpus_stats_n_buckets(stats);
    static const loupe_corpus_metric metrics[] = {LOUPE_CORPUS_INPUT_RANK, LOUPE_CORPUS_INPUT_PROB,
                                                  LOUPE_CORPUS_KL_FIRST};
    fprintf(out, " \"rarity\": {\"frequency_base\": %g, \"buckets\": [", report->stats_params.frequency_base);
    for (int b = 0; b < n_buckets; b++) {
        double low, high;
        loupe_corpus_stats_bucket_edges(stats, b, &low, &high);
        loupe_corpus_summary first = loupe_corpus_stats_bucket_summary(stats, b, 0, LOUPE_CORPUS_INPUT_RANK);
        fprintf(out, "%s\n   {\"low\": %.17g, \"high\": %.17g, \"positions\": %lld", b ? "," : "", low, high,
                (long long)first.count);
        for (size_t m = 0; m < sizeof metrics / sizeof metrics[0]; m++) {
            fprintf(out, ",\n    \"%s\": [", loupe_corpus_metric_name(metrics[m]));
            for (int row = 0; row < report->n_rows; row++) {
                loupe_corpus_summary summary = loupe_corpus_stats_bucket_summary(stats, b, row, metrics[m]);
                if (row > 0) fputs(", ", out);
                write_summary(out, &summary);
            }
            fputc(']', out);
        }
        fputc('}', out);
    }
    fputs("],\n  \"spearman_frequency_vs_input_rank\": [", out);
    for (int row = 0; row < report->n_rows; row++) {
        loupe_corpus_correlation rho = loupe_corpus_stats_spearman(stats, row);
        if (row > 0) fputs(", ", out);
        fprintf(out, "{\"n\": %lld, \"rho\": ", (long long)rho.n);
        cli_json_number(out, rho.defined ? rho.rho : NAN);
        fputs(", \"low\": ", out);
        cli_json_number(out, rho.defined ? rho.low : NAN);
        fputs(", \"high\": ", out);
        cli_json_number(out, rho.defined ? rho.high : NAN);
        fputc('}', out);
    }
    fputs("]}\n", out);
}

/* "tracked" (only with --track): per token its id, text, and per layer the
 * summaries of its rank and probability and the fraction of positions where
 * it is the layer's top-1. */
static void write_tracked(FILE *out, corpus_report *report) {
    fputs(" \"tracked\": [", out);
    for (int k = 0; k < report->n_track; k++) {
        fprintf(out, "%s\n  {\"id\": %d, \"text\": ", k ? "," : "", report->track_ids[k]);
        cli_json_string(out, report->track_text[k], report->track_text_length[k]);
        static const char *const names[] = {"rank", "prob"};
        for (int m = 0; m < 2; m++) {
            fprintf(out, ",\n   \"%s\": [", names[m]);
            for (int row = 0; row < report->n_rows; row++) {
                loupe_corpus_summary summary =
                    loupe_corpus_stats_tracked_summary(report->stats, k, row, (loupe_corpus_tracked_metric)m);
                if (row > 0) fputs(", ", out);
                write_summary(out, &summary);
            }
            fputc(']', out);
        }
        fputs(",\n   \"top1\": [", out);
        for (int row = 0; row < report->n_rows; row++) {
            if (row > 0) fputs(", ", out);
            cli_json_number(out, loupe_corpus_stats_tracked_top1(report->stats, k, row));
        }
        fputs("]}", out);
    }
    fputs("],\n", out);
}

void corpus_json_print(FILE *out, corpus_report *report) {
    write_header(out, report);
    fputs(" \"layers\": [", out);
    for (int row = 0; row < report->n_rows; row++) {
        if (row > 0) fputs(", ", out);
        write_string(out, report->row_names[row]);
    }
    fputs("],\n \"metrics\": {", out);
    for (int m = 0; m < LOUPE_CORPUS_METRIC_COUNT; m++) {
        fprintf(out, "%s\n  \"%s\": [", m ? "," : "", loupe_corpus_metric_name((loupe_corpus_metric)m));
        for (int row = 0; row < report->n_rows; row++) {
            loupe_corpus_summary summary = loupe_corpus_stats_summary(report->stats, row, (loupe_corpus_metric)m);
            fputs(row ? ",\n    " : "\n    ", out);
            write_summary(out, &summary);
        }
        fputc(']', out);
    }
    fputs("},\n", out);
    write_row_values(out, "ce_bits_per_byte", report, loupe_corpus_stats_bits_per_byte);
    write_row_values(out, "top1_is_final_top1", report, loupe_corpus_stats_top1_final);
    write_row_values(out, "top1_is_target", report, loupe_corpus_stats_top1_target);
    fputs(" \"decision_layer\": [", out);
    for (int row = 0; row < report->n_rows; row++)
        fprintf(out, "%s%lld", row ? ", " : "", (long long)loupe_corpus_stats_decision_count(report->stats, row));
    fputs("],\n", out);
    if (report->n_track > 0) write_tracked(out, report);
    if (loupe_corpus_stats_n_buckets(report->stats) > 0) write_rarity(out, report);
    else fputs(" \"rarity\": null\n", out);
    fputs("}\n", out);
}
