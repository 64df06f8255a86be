/*
 * plot.h - pictures of a lens (docs/PLOTS.md): the heatmap of the original
 * logit lens figures as PNG, SVG or an interactive HTML page, and the
 * per-layer summary line plots. The format follows the file's extension.
 * Every plot reads its lens through a lens_view (lens_output.h), so a run
 * and a saved JSON document draw alike.
 */
#ifndef LOUPE_PLOT_H
#define LOUPE_PLOT_H

#include <stddef.h>

#include "lens_output.h"
#include "plot_canvas.h"

enum {
    PLOT_TOKEN_MAX_WIDTH = 12, /* columns a token label may take before it is cut with an ellipsis */
    PLOT_LABEL_CAPACITY = 128, /* bytes of one fitted token label */
    PLOT_TITLE_CAPACITY = 512,
    PLOT_MAX_TICKS = 12,
};

#define PLOT_DEFAULT_DPI 144.0

typedef struct plot_style {
    lens_metric metric;     /* what colours the cells (the table's --metric, --vs, --kl, --token) */
    bool top_down;          /* the input row at the top (default: at the bottom) */
    double dpi;             /* PNG resolution */
    const char *model_name; /* for titles */
    int columns;            /* PNG/SVG heatmap: positions per panel (0: PLOT_DEFAULT_COLUMNS) */
    bool values;            /* PNG/SVG heatmap: the metric's value after each cell's token (--values) */
} plot_style;

enum { PLOT_DEFAULT_COLUMNS = 64 };

/* The heatmap: rows = lens rows, columns = positions, each cell the top-1
 * token coloured by style->metric; written to path as PNG, SVG or HTML. */
loupe_status plot_heatmap_write(const lens_view *view, const plot_style *style, const char *path,
                                loupe_error *error);

/* The heatmap as an HTML page (plot_html.c): self-contained, tooltips on
 * hover and focus, the metric switchable in the page. */
loupe_status plot_html_write(FILE *out, const lens_view *view, const plot_style *style, const char *name,
                             loupe_error *error);

/* The per-layer summary (plot_summary.c): the mean over the shown positions
 * of the four KLs, and the median of the target and input ranks on a log
 * axis. */
loupe_status plot_summary_write(const lens_view *view, const plot_style *style, const char *path,
                                loupe_error *error);

/* ------------------------------------------------------------------------
 * Labels shared by the plots (plot_labels.c)
 * ---------------------------------------------------------------------- */

/* The readable form of token id (loupe_tokenizer_render), cut to
 * PLOT_TOKEN_MAX_WIDTH columns with an ellipsis, into buffer
 * (PLOT_LABEL_CAPACITY); "" for id -1. Returns buffer. */
char *plot_token_label(const lens_view *view, int32_t id, char *buffer);

/* "MODEL: what the metric shows, vs the final row" into buffer
 * (PLOT_TITLE_CAPACITY), followed by "; track:1 = ␣Paris (id 6342)" when
 * the metric follows a tracked token of view. Returns buffer. */
char *plot_title(const lens_view *view, const plot_style *style, char *buffer);

/* The colour bar's caption: the metric with its scale, e.g.
 * "rank of the input token (1 = top), log scale". Returns buffer. */
char *plot_scale_caption(const lens_metric *metric, const lens_scale *scale, char *buffer, size_t capacity);

/* A tick of a colour bar or an axis: where it lies (0 .. 1) and its label. */
typedef struct plot_tick {
    double position;
    double value;
    char label[32];
} plot_tick;

/* Ticks for a metric's colour scale: round values (powers of ten for
 * ranks) placed with lens_scale_position. Returns how many (<= capacity). */
int plot_scale_ticks(const lens_scale *scale, plot_tick *ticks, int capacity);

/* Round values spanning [low, high] (1, 2 or 5 times a power of ten apart)
 * for a linear axis, or powers of ten for a log axis (low > 0). Returns how
 * many were written (<= capacity); positions are left 0. */
int plot_axis_ticks(double low, double high, bool log_axis, plot_tick *ticks, int capacity);

/* The last component of a model folder's path into buffer. Returns buffer. */
char *plot_model_name(const char *directory, char *buffer, size_t capacity);

/* ------------------------------------------------------------------------
 * For the commands (plot_outputs.c)
 * ---------------------------------------------------------------------- */

/* Writes the heatmap to heatmap_path and the summary to summary_path (either
 * may be NULL). Returns 0, or prints the error and returns CLI_EXIT_FAILURE. */
int plot_outputs_write(const lens_view *view, const plot_style *style, const char *heatmap_path,
                       const char *summary_path);

/* True when path ends in .png, .svg or .html; else prints a message naming
 * the option. */
bool plot_check_path(const char *option, const char *path);

/* True when path can be written, checked before the model runs so that a
 * run does not fail only at its end: an existing file must be writable (it
 * is not opened: nothing is truncated), a new file's folder must exist and
 * take files (nothing is created). Else prints "PATH: cannot create the
 * file: REASON". */
bool plot_output_check(const char *path);

/* plot_output_check of each path that is not NULL: 0 or CLI_EXIT_FAILURE. */
int plot_outputs_check(const char *heatmap_path, const char *summary_path);

/* The colour of the cells where the metric is undefined. */
extern const lens_rgb plot_undefined_colour;

#endif
