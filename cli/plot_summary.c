/*
 * plot_summary.c - the per-layer summary of a lens as line charts
 * (plot_chart.h): for every shown row, the mean over the shown positions of
 * the four KLs (one panel, nats) and of the ranks of the true next token
 * and of the input token (another panel, log scale).
 */
#include <math.h>
#include <stdlib.h>

#include "loupe_internal.h"
#include "plot.h"
#include "plot_chart.h"

enum { SUMMARY_SERIES = 6 };

loupe_status plot_summary_write(const lens_view *view, const plot_style *style, const char *path,
                                loupe_error *error) {
    int n_rows = view->rows.end - view->rows.first;
    double *means = calloc((size_t)n_rows * SUMMARY_SERIES, sizeof *means);
    const char **names = calloc((size_t)n_rows, sizeof *names);
    if (means == NULL || names == NULL) {
        free(means);
        free(names);
        return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", path);
    }
    /* means[s * n_rows + i]: series s at shown row i */
    for (int i = 0; i < n_rows; i++) {
        int row = view->rows.first + i;
        names[i] = lens_view_row_name(view, row);
        double sums[SUMMARY_SERIES] = {0};
        int counts[SUMMARY_SERIES] = {0};
        for (int t = view->positions.first; t < view->positions.end; t++) {
            const loupe_lens_cell *cell = lens_view_cell(view, row, t);
            double values[SUMMARY_SERIES] = {cell->kl_final, cell->kl_final_rev, cell->kl_first, cell->kl_first_rev,
                                             cell->target.rank, cell->input.rank};
            for (int s = 0; s < SUMMARY_SERIES; s++) {
                if (s == 4 && cell->target.id < 0) continue; /* no next token at the last position */
                sums[s] += values[s];
                counts[s]++;
            }
        }
        for (int s = 0; s < SUMMARY_SERIES; s++) means[s * n_rows + i] = counts[s] > 0 ? sums[s] / counts[s] : NAN;
    }
    const plot_series kls[] = {
        {"KL(final || row)", means + 0 * n_rows},
        {"KL(row || final)", means + 1 * n_rows},
        {"KL(input || row)", means + 2 * n_rows},
        {"KL(row || input)", means + 3 * n_rows},
    };
    const plot_series ranks[] = {
        {"rank of the true next token", means + 4 * n_rows},
        {"rank of the input token", means + 5 * n_rows},
    };
    const plot_chart charts[] = {
        {.title = "mean KL over positions", .y_label = "nats", .series = kls, .n_series = 4},
        {.title = "mean rank over positions", .y_label = "1 = top, log scale", .log_y = true, .series = ranks,
         .n_series = 2},
    };
    char title[PLOT_TITLE_CAPACITY];
    snprintf(title, sizeof title, "%s: the lens per layer, positions %d .. %d", style->model_name,
             view->positions.first, view->positions.end - 1);
    plot_figure figure = {.title = title, .x_label = "layer (lens row)", .x_labels = names, .n_points = n_rows,
                          .charts = charts, .n_charts = 2, .dpi = style->dpi};
    loupe_status status = plot_figure_write(&figure, path, error);
    free(means);
    free(names);
    return status;
}
