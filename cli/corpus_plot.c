/*
 * corpus_plot.c - the pictures of a corpus run, drawn with the line-chart
 * API of plot_chart.h: per-layer medians with 10 % .. 90 % bands (ranks and
 * KLs on log axes), the agreement fractions, and with counts the rarity
 * chart (median input-token rank per layer, one line per frequency bucket).
 * They draw a corpus_plot_data, taken from a run or from a saved JSON
 * document (corpus_json_read.c), so both give the same figure.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "corpus_output.h"
#include "loupe_internal.h"
#include "plot.h"
#include "plot_chart.h"

corpus_plot_data *corpus_plot_data_from_report(corpus_report *report) {
    int R = report->n_rows;
    corpus_plot_data *data = corpus_plot_data_create(R);
    if (data == NULL) return NULL;
    memcpy(data->row_names, report->row_names, (size_t)R * sizeof *data->row_names);
    for (int m = 0; m < CORPUS_PLOT_METRICS; m++)
        for (int row = 0; row < R; row++) {
            loupe_corpus_summary s = loupe_corpus_stats_summary(report->stats, row, corpus_plot_metrics[m]);
            data->median[m * R + row] = s.median;
            data->p10[m * R + row] = s.p10;
            data->p90[m * R + row] = s.p90;
        }
    for (int row = 0; row < R; row++) {
        data->top1_final[row] = loupe_corpus_stats_top1_final(report->stats, row);
        data->top1_target[row] = loupe_corpus_stats_top1_target(report->stats, row);
    }
    int n_buckets = loupe_corpus_stats_n_buckets(report->stats);
    if (n_buckets > CORPUS_PLOT_MAX_BUCKETS) n_buckets = CORPUS_PLOT_MAX_BUCKETS;
    for (int b = 0; b < n_buckets; b++) {
        int64_t count = loupe_corpus_stats_bucket_summary(report->stats, b, 0, LOUPE_CORPUS_INPUT_RANK).count;
        if (count == 0) continue;
        int at = data->n_buckets++;
        loupe_corpus_stats_bucket_edges(report->stats, b, &data->bucket_low[at], &data->bucket_high[at]);
        data->bucket_positions[at] = count;
        for (int row = 0; row < R; row++)
            data->bucket_input_rank[at * R + row] =
                loupe_corpus_stats_bucket_summary(report->stats, b, row, LOUPE_CORPUS_INPUT_RANK).median;
    }
    char model_name[sizeof data->model_name];
    plot_model_name(report->info->directory, model_name, sizeof model_name);
    cli_lens_titled(model_name, report->tuned_directory != NULL, data->model_name, sizeof data->model_name); /* titles say which lens */
    data->positions = report->positions;
    data->partial = report->partial;
    return data;
}

void corpus_plot_rarity_path(const char *path, char *buffer, size_t capacity) {
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    if (dot == NULL || (slash != NULL && dot < slash)) dot = path + strlen(path);
    snprintf(buffer, capacity, "%.*s-rarity%s", (int)(dot - path), path, dot);
}

/* The rarity chart: one line per frequency bucket, the median input-token
 * rank per row; labels (R) name the rows. */
static int write_rarity(const corpus_plot_data *data, const char *path, const char *const *labels) {
    int R = data->n_rows;
    plot_series series[CORPUS_PLOT_MAX_BUCKETS];
    char names[CORPUS_PLOT_MAX_BUCKETS][64];
    for (int b = 0; b < data->n_buckets; b++) {
        snprintf(names[b], sizeof names[0], "frequency [%.0f, %.0f): %lld positions", data->bucket_low[b],
                 data->bucket_high[b], (long long)data->bucket_positions[b]);
        series[b] = (plot_series){names[b], data->bucket_input_rank + (size_t)b * R};
    }
    char title[512];
    snprintf(title, sizeof title, "%s: median rank of the input token by its corpus frequency", data->model_name);
    plot_chart chart = {.title = "median input-token rank (1 = top), one line per frequency bucket",
                        .y_label = "rank", .log_y = true, .series = series, .n_series = data->n_buckets};
    plot_figure figure = {.title = title, .x_label = "layer", .x_labels = labels, .n_points = R,
                          .charts = &chart, .n_charts = 1, .dpi = 144};
    char where[4096];
    corpus_plot_rarity_path(path, where, sizeof where);
    loupe_error error;
    if (plot_figure_write(&figure, where, &error) != LOUPE_OK) return cli_fail(&error);
    return 0;
}

int corpus_plot_draw(const corpus_plot_data *data, const char *path) {
    int R = data->n_rows;
    const char **labels = calloc((size_t)R, sizeof *labels);
    if (labels == NULL) {
        cli_error("out of memory for the plot");
        return CLI_EXIT_FAILURE;
    }
    for (int row = 0; row < R; row++) labels[row] = data->row_names[row];
    /* metric m's median, p10 and p90 curves (R each), in corpus_plot_metrics order */
#define MEDIAN(m) (data->median + (size_t)(m) * R)
#define LOW(m) (data->p10 + (size_t)(m) * R)
#define HIGH(m) (data->p90 + (size_t)(m) * R)
    plot_series ranks[] = {{"target (true next token)", MEDIAN(0)}, {"input token", MEDIAN(1)}};
    plot_band rank_bands[] = {{"target 10% .. 90%", LOW(0), HIGH(0), 0}, {"input 10% .. 90%", LOW(1), HIGH(1), 1}};
    plot_series kls[] = {{"KL(final || layer)", MEDIAN(2)}, {"KL(layer || final)", MEDIAN(3)},
                         {"KL(input || layer)", MEDIAN(4)}, {"KL(layer || input)", MEDIAN(5)}};
    plot_band kl_bands[] = {{"KL(final || layer) 10% .. 90%", LOW(2), HIGH(2), 0},
                            {"KL(layer || final) 10% .. 90%", LOW(3), HIGH(3), 1},
                            {"KL(input || layer) 10% .. 90%", LOW(4), HIGH(4), 2},
                            {"KL(layer || input) 10% .. 90%", LOW(5), HIGH(5), 3}};
    plot_series entropy[] = {{"entropy", MEDIAN(6)}};
    plot_band entropy_band[] = {{"10% .. 90%", LOW(6), HIGH(6), 0}};
#undef MEDIAN
#undef LOW
#undef HIGH
    plot_series agreement[] = {{"top-1 = final top-1", data->top1_final},
                               {"top-1 = true next token", data->top1_target}};
    plot_chart charts[] = {
        {.title = "median rank (1 = top)", .y_label = "rank", .log_y = true, .series = ranks, .n_series = 2,
         .bands = rank_bands, .n_bands = 2},
        {.title = "median KL divergence", .y_label = "nats", .log_y = true, .series = kls, .n_series = 4,
         .bands = kl_bands, .n_bands = 4},
        {.title = "median entropy", .y_label = "nats", .series = entropy, .n_series = 1, .bands = entropy_band,
         .n_bands = 1},
        {.title = "fraction of positions", .y_label = "fraction", .series = agreement, .n_series = 2},
    };
    char title[512];
    snprintf(title, sizeof title, "%s over %lld positions%s (medians, bands 10%% .. 90%%)", data->model_name,
             (long long)data->positions, data->partial ? ", partial" : "");
    plot_figure figure = {.title = title, .x_label = "layer", .x_labels = labels, .n_points = R,
                          .charts = charts, .n_charts = 4, .dpi = 144};
    loupe_error error;
    int status = 0;
    if (plot_figure_write(&figure, path, &error) != LOUPE_OK) status = cli_fail(&error);
    if (status == 0 && data->n_buckets > 0) status = write_rarity(data, path, labels);
    free(labels);
    return status;
}

int corpus_plot_write(corpus_report *report, const char *path) {
    corpus_plot_data *data = corpus_plot_data_from_report(report);
    if (data == NULL) {
        cli_error("out of memory for the plot");
        return CLI_EXIT_FAILURE;
    }
    int status = corpus_plot_draw(data, path);
    corpus_plot_data_free(data);
    return status;
}

int corpus_plot_saved(const char *path, const char *plot_path, const char *summary_path) {
    size_t length = 0;
    char *text = NULL;
    loupe_error error;
    /* a file that cannot be read is left to the lens reader to report */
    if (file_read_all(path, CORPUS_PLOT_MAX_JSON_BYTES, &text, &length, &error) != LOUPE_OK ||
        !corpus_json_is_corpus(text, length)) {
        free(text);
        return -1;
    }
    int status = 0;
    corpus_plot_data *data = NULL;
    if (summary_path != NULL) {
        cli_error("plot: %s is a corpus document: it draws with --plot only (--summary draws a lens)", path);
        status = CLI_EXIT_USAGE;
    } else if (corpus_json_read(text, length, path, &data, &error) != LOUPE_OK) {
        status = cli_fail(&error);
    } else {
        status = corpus_plot_draw(data, plot_path);
        plot_text_shutdown();
    }
    corpus_plot_data_free(data);
    free(text);
    return status;
}
