/*
 * corpus_plot_overlay.c - `loupe plot A.json B.json ... --plot FILE`: two or
 * more saved corpus reports (loupe corpus --format json) in one figure, one
 * colour per report named in the legend (its model, or its file when two
 * reports name the same model): per layer the median target and input
 * ranks, the median KL(final || layer), the median entropy, each with its
 * 10 % .. 90 % band, and how often the top-1 is the true next token. The
 * reports must have the same rows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "corpus_output.h"
#include "loupe_internal.h"
#include "plot.h"
#include "plot_chart.h"

enum { OVERLAY_MAX_REPORTS = 7, OVERLAY_NAME_CAPACITY = 256 };

/* The metrics drawn, as indices into corpus_plot_metrics: target rank,
 * input rank, KL(final || layer), entropy. */
static const int overlay_metrics[] = {0, 1, 2, 6};
static const char *const overlay_titles[] = {"median rank of the true next token (1 = top)",
                                             "median rank of the input token (1 = top)", "median KL(final || layer)",
                                             "median entropy"};
static const char *const overlay_units[] = {"rank", "rank", "nats", "nats"};
enum { OVERLAY_CHARTS = 4 };

/* Reads one saved corpus report; NULL with the error printed. */
static corpus_plot_data *read_report(const char *path) {
    char *text = NULL;
    size_t length = 0;
    loupe_error error;
    corpus_plot_data *data = NULL;
    if (file_read_all(path, CORPUS_PLOT_MAX_JSON_BYTES, &text, &length, &error) != LOUPE_OK) {
        cli_fail(&error);
    } else if (!corpus_json_is_corpus(text, length)) {
        cli_error("plot: %s is not a corpus document: several files overlay saved loupe corpus --format json reports",
                  path);
    } else if (corpus_json_read(text, length, path, &data, &error) != LOUPE_OK) {
        cli_fail(&error);
        data = NULL;
    }
    free(text);
    return data;
}

/* The legend's name of report k: its model, else its file's name. */
static void report_name(corpus_plot_data *const *reports, const char *const *paths, int n, int k, char *buffer) {
    bool shared = false;
    for (int j = 0; j < n; j++) shared |= j != k && strcmp(reports[j]->model_name, reports[k]->model_name) == 0;
    const char *slash = strrchr(paths[k], '/');
    snprintf(buffer, OVERLAY_NAME_CAPACITY, "%s", shared ? (slash ? slash + 1 : paths[k]) : reports[k]->model_name);
}

static int draw(corpus_plot_data *const *reports, const char *const *paths, int n, const char *plot_path) {
    const int R = reports[0]->n_rows;
    char names[OVERLAY_MAX_REPORTS][OVERLAY_NAME_CAPACITY], band_names[OVERLAY_MAX_REPORTS][OVERLAY_NAME_CAPACITY + 16];
    plot_series series[OVERLAY_CHARTS + 1][OVERLAY_MAX_REPORTS];
    plot_band bands[OVERLAY_CHARTS][OVERLAY_MAX_REPORTS];
    plot_chart charts[OVERLAY_CHARTS + 1];
    for (int k = 0; k < n; k++) {
        report_name(reports, paths, n, k, names[k]);
        snprintf(band_names[k], sizeof band_names[k], "%s 10%% .. 90%%", names[k]);
    }
    for (int c = 0; c < OVERLAY_CHARTS; c++) {
        int m = overlay_metrics[c];
        for (int k = 0; k < n; k++) {
            series[c][k] = (plot_series){names[k], reports[k]->median + (size_t)m * R};
            bands[c][k] = (plot_band){band_names[k], reports[k]->p10 + (size_t)m * R, reports[k]->p90 + (size_t)m * R, k};
        }
        charts[c] = (plot_chart){.title = overlay_titles[c], .y_label = overlay_units[c], .log_y = c < 3,
                                 .series = series[c], .n_series = n, .bands = bands[c], .n_bands = n};
    }
    for (int k = 0; k < n; k++) series[OVERLAY_CHARTS][k] = (plot_series){names[k], reports[k]->top1_target};
    charts[OVERLAY_CHARTS] = (plot_chart){.title = "fraction of positions whose top-1 is the true next token",
                                          .y_label = "fraction", .series = series[OVERLAY_CHARTS], .n_series = n};
    const char **labels = calloc((size_t)R, sizeof *labels);
    if (labels == NULL) {
        cli_error("out of memory for the plot");
        return CLI_EXIT_FAILURE;
    }
    for (int row = 0; row < R; row++) labels[row] = reports[0]->row_names[row];
    char title[PLOT_TITLE_CAPACITY];
    snprintf(title, sizeof title, "%d corpus reports per layer (medians, bands 10%% .. 90%%)", n);
    plot_figure figure = {.title = title, .x_label = "layer", .x_labels = labels, .n_points = R, .charts = charts,
                          .n_charts = OVERLAY_CHARTS + 1, .dpi = 144};
    loupe_error error;
    int status = plot_figure_write(&figure, plot_path, &error) == LOUPE_OK ? 0 : cli_fail(&error);
    free(labels);
    return status;
}

int corpus_plot_overlay(const char *const *paths, int n, const char *plot_path) {
    if (n > OVERLAY_MAX_REPORTS) {
        cli_error("plot: at most %d corpus reports in one figure, got %d", OVERLAY_MAX_REPORTS, n);
        return CLI_EXIT_USAGE;
    }
    corpus_plot_data *reports[OVERLAY_MAX_REPORTS] = {0};
    int status = 0;
    for (int k = 0; k < n && status == 0; k++) {
        reports[k] = read_report(paths[k]);
        if (reports[k] == NULL) {
            status = CLI_EXIT_FAILURE;
        } else if (reports[k]->n_rows != reports[0]->n_rows ||
                   memcmp(reports[k]->row_names, reports[0]->row_names,
                          (size_t)reports[0]->n_rows * sizeof *reports[0]->row_names) != 0) {
            cli_error("plot: %s has other layers than %s (%d rows and %d): the reports must have the same rows",
                      paths[k], paths[0], reports[k]->n_rows, reports[0]->n_rows);
            status = CLI_EXIT_FAILURE;
        }
    }
    if (status == 0) status = draw(reports, paths, n, plot_path);
    plot_text_shutdown();
    for (int k = 0; k < n; k++) corpus_plot_data_free(reports[k]);
    return status;
}
