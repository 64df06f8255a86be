/*
 * corpus_plot.c - the pictures of a corpus run, drawn with the line-chart
 * API of plot_chart.h: per-layer medians with 10 % .. 90 % bands (ranks and
 * KLs on log axes), the agreement fractions, and with counts the rarity
 * chart (median input-token rank per layer, one line per frequency bucket).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "corpus_output.h"
#include "plot_chart.h"

enum { MAX_BUCKET_LINES = 16 };

/* Per-row arrays of one metric: median, p10, p90. */
typedef struct metric_curves {
    double *median, *low, *high;
} metric_curves;

/* Fills curves (R each) with the median, p10 and p90 of a metric per row. */
static void fill_curves(corpus_report *report, loupe_corpus_metric metric, metric_curves *curves) {
    for (int row = 0; row < report->n_rows; row++) {
        loupe_corpus_summary s = loupe_corpus_stats_summary(report->stats, row, metric);
        curves->median[row] = s.median;
        curves->low[row] = s.p10;
        curves->high[row] = s.p90;
    }
}

/* path with "-rarity" before its extension, into buffer. */
static void rarity_path(const char *path, char *buffer, size_t capacity) {
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    if (dot == NULL || (slash != NULL && dot < slash)) dot = path + strlen(path);
    snprintf(buffer, capacity, "%.*s-rarity%s", (int)(dot - path), path, dot);
}

/* The rarity chart: one line per non-empty frequency bucket, the median
 * input-token rank per row; labels (R) name the rows. */
static int write_rarity(corpus_report *report, const char *path, const char *const *labels, const char *name) {
    int n_buckets = loupe_corpus_stats_n_buckets(report->stats);
    if (n_buckets > MAX_BUCKET_LINES) n_buckets = MAX_BUCKET_LINES;
    int R = report->n_rows;
    double *values = calloc((size_t)n_buckets * R, sizeof *values);
    plot_series series[MAX_BUCKET_LINES];
    char names[MAX_BUCKET_LINES][64];
    int n_series = 0;
    for (int b = 0; b < n_buckets; b++) {
        double low, high;
        loupe_corpus_stats_bucket_edges(report->stats, b, &low, &high);
        int64_t count = loupe_corpus_stats_bucket_summary(report->stats, b, 0, LOUPE_CORPUS_INPUT_RANK).count;
        if (count == 0) continue;
        for (int row = 0; row < R; row++)
            values[(size_t)n_series * R + row] =
                loupe_corpus_stats_bucket_summary(report->stats, b, row, LOUPE_CORPUS_INPUT_RANK).median;
        snprintf(names[n_series], sizeof names[0], "frequency [%.0f, %.0f): %lld positions", low, high,
                 (long long)count);
        series[n_series] = (plot_series){names[n_series], values + (size_t)n_series * R};
        n_series++;
    }
    char title[256];
    snprintf(title, sizeof title, "%s: median rank of the input token by its corpus frequency", name);
    plot_chart chart = {.title = "median input-token rank (1 = top), one line per frequency bucket",
                        .y_label = "rank", .log_y = true, .series = series, .n_series = n_series};
    plot_figure figure = {.title = title, .x_label = "layer", .x_labels = labels, .n_points = R,
                          .charts = &chart, .n_charts = 1, .dpi = 144};
    char where[4096];
    rarity_path(path, where, sizeof where);
    loupe_error error;
    int status = 0;
    if (n_series > 0 && plot_figure_write(&figure, where, &error) != LOUPE_OK) status = cli_fail(&error);
    free(values);
    return status;
}

int corpus_plot_write(corpus_report *report, const char *path) {
    int R = report->n_rows;
    static const loupe_corpus_metric shown[] = {
        LOUPE_CORPUS_TARGET_RANK, LOUPE_CORPUS_INPUT_RANK,  LOUPE_CORPUS_KL_FINAL,
        LOUPE_CORPUS_KL_FINAL_REV, LOUPE_CORPUS_KL_FIRST, LOUPE_CORPUS_KL_FIRST_REV, LOUPE_CORPUS_ENTROPY,
    };
    enum { SHOWN = sizeof shown / sizeof shown[0] };
    double *arrays = calloc((size_t)R * (3 * SHOWN + 2), sizeof *arrays);
    const char **labels = calloc((size_t)R, sizeof *labels);
    if (arrays == NULL || labels == NULL) {
        free(arrays);
        free(labels);
        cli_error("out of memory for the plot");
        return CLI_EXIT_FAILURE;
    }
    for (int row = 0; row < R; row++) labels[row] = report->row_names[row];
    metric_curves curves[SHOWN];
    for (int m = 0; m < SHOWN; m++) {
        curves[m] = (metric_curves){arrays + (size_t)R * 3 * m, arrays + (size_t)R * (3 * m + 1),
                                    arrays + (size_t)R * (3 * m + 2)};
        fill_curves(report, shown[m], &curves[m]);
    }
    double *top1_final = arrays + (size_t)R * 3 * SHOWN, *top1_target = top1_final + R;
    for (int row = 0; row < R; row++) {
        top1_final[row] = loupe_corpus_stats_top1_final(report->stats, row);
        top1_target[row] = loupe_corpus_stats_top1_target(report->stats, row);
    }
    plot_series ranks[] = {{"target (true next token)", curves[0].median}, {"input token", curves[1].median}};
    plot_band rank_bands[] = {{"10% .. 90%", curves[0].low, curves[0].high, 0},
                              {NULL, curves[1].low, curves[1].high, 1}};
    plot_series kls[] = {{"KL(final || layer)", curves[2].median}, {"KL(layer || final)", curves[3].median},
                         {"KL(input || layer)", curves[4].median}, {"KL(layer || input)", curves[5].median}};
    plot_band kl_bands[] = {{"10% .. 90%", curves[2].low, curves[2].high, 0},
                            {NULL, curves[3].low, curves[3].high, 1},
                            {NULL, curves[4].low, curves[4].high, 2},
                            {NULL, curves[5].low, curves[5].high, 3}};
    plot_series entropy[] = {{"entropy", curves[6].median}};
    plot_band entropy_band[] = {{"10% .. 90%", curves[6].low, curves[6].high, 0}};
    plot_series agreement[] = {{"top-1 = final top-1", top1_final}, {"top-1 = true next token", top1_target}};
    plot_chart charts[] = {
        {.title = "median rank (1 = top)", .y_label = "rank", .log_y = true, .series = ranks, .n_series = 2,
         .bands = rank_bands, .n_bands = 2},
        {.title = "median KL divergence", .y_label = "nats", .log_y = true, .series = kls, .n_series = 4,
         .bands = kl_bands, .n_bands = 4},
        {.title = "median entropy", .y_label = "nats", .series = entropy, .n_series = 1, .bands = entropy_band,
         .n_bands = 1},
        {.title = "fraction of positions", .y_label = "fraction", .series = agreement, .n_series = 2},
    };
    const char *slash = strrchr(report->info->directory, '/');
    const char *name = slash && slash[1] ? slash + 1 : report->info->directory;
    char title[256];
    snprintf(title, sizeof title, "%s over %lld positions%s (medians, bands 10%% .. 90%%)", name,
             (long long)report->positions, report->partial ? ", partial" : "");
    plot_figure figure = {.title = title, .x_label = "layer", .x_labels = labels, .n_points = R,
                          .charts = charts, .n_charts = 4, .dpi = 144};
    loupe_error error;
    int status = 0;
    if (plot_figure_write(&figure, path, &error) != LOUPE_OK) status = cli_fail(&error);
    if (status == 0 && loupe_corpus_stats_n_buckets(report->stats) > 0)
        status = write_rarity(report, path, labels, name);
    free(arrays);
    free(labels);
    return status;
}
