/*
 * plot_summary.c - the per-layer summary of a lens as line charts
 * (plot_chart.h): for every shown row, the mean over the shown positions of
 * the four KLs (one panel, nats) and the median of the ranks of the true
 * next token and of the input token (another panel, log scale).
 */
#include <math.h>
#include <stdlib.h>

#include "loupe_internal.h"
#include "plot.h"
#include "plot_chart.h"

enum { SUMMARY_SERIES = 6, SUMMARY_KLS = 4 };

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of values (n; sorted in place): the middle value, or the mean
 * of the two middle ones when n is even; NAN when n is 0. */
static double median_of(double *values, int n) {
    if (n == 0) return NAN;
    qsort(values, (size_t)n, sizeof *values, compare_doubles);
    return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

loupe_status plot_summary_write(const lens_view *view, const plot_style *style, const char *path,
                                loupe_error *error) {
    int n_rows = view->rows.end - view->rows.first;
    int n_positions = view->positions.end - view->positions.first;
    double *curves = calloc((size_t)n_rows * SUMMARY_SERIES, sizeof *curves);
    double *ranks = calloc((size_t)n_positions, sizeof *ranks);
    const char **names = calloc((size_t)n_rows, sizeof *names);
    if (curves == NULL || ranks == NULL || names == NULL) {
        free(curves);
        free(ranks);
        free(names);
        return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", path);
    }
    /* curves[s * n_rows + i]: series s at shown row i; the KLs' means, then
     * the ranks' medians (one outlier would dominate a mean of ranks) */
    for (int i = 0; i < n_rows; i++) {
        int row = view->rows.first + i;
        names[i] = lens_view_row_name(view, row);
        double sums[SUMMARY_KLS] = {0};
        for (int t = view->positions.first; t < view->positions.end; t++) {
            const loupe_lens_cell *cell = lens_view_cell(view, row, t);
            double values[SUMMARY_KLS] = {cell->kl_final, cell->kl_final_rev, cell->kl_first, cell->kl_first_rev};
            for (int s = 0; s < SUMMARY_KLS; s++) sums[s] += values[s];
        }
        for (int s = 0; s < SUMMARY_KLS; s++) curves[s * n_rows + i] = sums[s] / n_positions;
        int n = 0;
        for (int t = view->positions.first; t < view->positions.end; t++) {
            const loupe_lens_cell *cell = lens_view_cell(view, row, t);
            if (cell->target.id >= 0) ranks[n++] = cell->target.rank; /* no next token at the last position */
        }
        curves[4 * n_rows + i] = median_of(ranks, n);
        for (int t = view->positions.first; t < view->positions.end; t++)
            ranks[t - view->positions.first] = lens_view_cell(view, row, t)->input.rank;
        curves[5 * n_rows + i] = median_of(ranks, n_positions);
    }
    const plot_series kls[] = {
        {"KL(final || row)", curves + 0 * n_rows},
        {"KL(row || final)", curves + 1 * n_rows},
        {"KL(input || row)", curves + 2 * n_rows},
        {"KL(row || input)", curves + 3 * n_rows},
    };
    const plot_series rank_series[] = {
        {"rank of the true next token", curves + 4 * n_rows},
        {"rank of the input token", curves + 5 * n_rows},
    };
    const plot_chart charts[] = {
        {.title = "mean KL over positions", .y_label = "nats", .series = kls, .n_series = 4},
        {.title = "median rank over positions", .y_label = "1 = top, log scale", .log_y = true,
         .series = rank_series, .n_series = 2},
    };
    char title[PLOT_TITLE_CAPACITY];
    snprintf(title, sizeof title, "%s: the lens per layer, positions %d .. %d", style->model_name,
             view->positions.first, view->positions.end - 1);
    plot_figure figure = {.title = title, .x_label = "layer (lens row)", .x_labels = names, .n_points = n_rows,
                          .charts = charts, .n_charts = 2, .dpi = style->dpi};
    loupe_status status = plot_figure_write(&figure, path, error);
    free(curves);
    free(ranks);
    free(names);
    return status;
}
