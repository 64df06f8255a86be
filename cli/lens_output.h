/*
 * lens_output.h - what `loupe lens` prints and how: the view of a lens
 * result (which rows and positions), the metric that colours the table, and
 * the three renderers (terminal table, JSON, CSV) with their helpers.
 *
 * Shapes: R lens rows (input, h1 .. hL, with sub-blocks also hN.attn),
 * T positions (tokens). Row 0 is the input row, row R-1 the model's output.
 */
#ifndef LOUPE_LENS_OUTPUT_H
#define LOUPE_LENS_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "loupe.h"

/* ------------------------------------------------------------------------
 * Windows over rows and positions (lens_window.c)
 * ---------------------------------------------------------------------- */

/* A Python-style slice "A:B" as typed: either end may be missing; negative
 * ends count from the end. */
typedef struct lens_slice {
    bool has_first, has_end;
    long first, end;
} lens_slice;

/* The half-open range [first, end) of indices a slice selects. */
typedef struct lens_window {
    int first, end;
} lens_window;

/* Parses "A:B", "A:", ":B" or ":" into *slice; false with a message naming
 * the option when the text is not of that form. */
bool lens_slice_parse(const char *option, const char *text, lens_slice *slice);

/* Resolves a slice over n indices the way Python does (negative ends count
 * from n, ends clamped to [0, n]). False with a message naming the option
 * when the slice selects nothing. */
bool lens_slice_resolve(const char *option, const lens_slice *slice, int n, lens_window *window);

/* ------------------------------------------------------------------------
 * The view every renderer prints
 * ---------------------------------------------------------------------- */

/* A lens comes from one of two sources: a run (`result`) or a saved JSON
 * document (`saved`, which holds only the cells of its window). Renderers
 * read it through the lens_view_* accessors below, never from either source
 * directly, so both feed the same table and plot code. */
struct certified_lens;

typedef struct lens_view {
    const loupe_lens_result *result;  /* the lens of a run, or NULL */
    const struct certified_lens *certified; /* --certify: the certified lens of the same run, or NULL */
    const loupe_lens_saved *saved;    /* a lens read from JSON (loupe_lens_read_json), or NULL */
    const loupe_tokenizer *tokenizer; /* renders the token ids */
    const loupe_model_info *info;
    lens_window rows;      /* the rows shown, [first, end) within 0 .. R */
    lens_window positions; /* the positions shown, [first, end) within 0 .. T */
    int topk;
    bool subblocks;
    bool contributions; /* the hN.attn_out and hN.mlp_out rows are there */
    const char *tuned_directory; /* the tuned lens's folder (--tuned), or NULL: the logit lens */
} lens_view;

/* The accessors (lens_view.c). Row and position are absolute indices inside
 * view->rows and view->positions. */

/* The cell at (row, position). */
const loupe_lens_cell *lens_view_cell(const lens_view *view, int row, int position);

/* The row's name: "input", "hN", "hN.attn". */
const char *lens_view_row_name(const lens_view *view, int row);

/* The id of the input token at position. */
int32_t lens_view_input_id(const lens_view *view, int position);

/* The id of the true next token x(position + 1), or -1 at the text's last
 * position. */
int32_t lens_view_next_id(const lens_view *view, int position);

/* True when the model's final top-1 at position is the true next token. */
bool lens_view_final_is_next(const lens_view *view, int position);

/* ------------------------------------------------------------------------
 * The colouring metric (lens_metric.c)
 * ---------------------------------------------------------------------- */

typedef enum lens_metric_kind {
    LENS_METRIC_PROB,
    LENS_METRIC_LOGIT,
    LENS_METRIC_RANK,
    LENS_METRIC_KL,
    LENS_METRIC_ENTROPY,
    LENS_METRIC_CERTAINTY, /* --certify: the top-1's margin in units of radius; undefined where not certain */
} lens_metric_kind;

/* The metrics' names for --metric, in lens_metric_kind order. */
extern const char *const lens_metric_names[6];

typedef enum lens_comparison {
    LENS_VS_FINAL, /* against the final row (its top-1 or the true next token) */
    LENS_VS_FIRST, /* against the input row (the input token) */
} lens_comparison;

typedef enum lens_kl_direction {
    LENS_KL_FORWARD, /* KL(reference || row) */
    LENS_KL_REVERSE, /* KL(row || reference) */
} lens_kl_direction;

typedef enum lens_token_choice {
    LENS_TOKEN_FINAL_TOP, /* the final row's top-1 token */
    LENS_TOKEN_TARGET,    /* the true next token */
    LENS_TOKEN_TRACKED,   /* a token given with --track (`tracked` says which) */
} lens_token_choice;

typedef struct lens_metric {
    lens_metric_kind kind;
    lens_comparison vs;
    lens_kl_direction kl;
    lens_token_choice token; /* used by prob, logit and rank with LENS_VS_FINAL */
    int tracked;             /* LENS_TOKEN_TRACKED: the index into the cells' tracked tokens, from 0 */
} lens_metric;

/* Applies one of the options --metric, --vs, --kl, --token (named by
 * `option`) with its text to *metric (cmd_lens.c); false with a message
 * naming the option when the text is not one of its choices. */
bool lens_metric_option(const char *option, const char *text, lens_metric *metric);

/* The metric's value at the cell (row, t) of view; false when it is
 * undefined there (the true next token at the last position, a tracked
 * token the cell lacks; certainty without view->certified or where the
 * top-1 is not certain). */
bool lens_metric_value(const lens_metric *metric, const lens_view *view, int row, int t, double *value);

/* A one-line description of what the metric colours, e.g. "probability of
 * the final row's top-1 token"; a static string. */
const char *lens_metric_describe(const lens_metric *metric);

/* Which tracked token the metric follows, when it follows one (--token
 * track:N with prob, logit or rank vs the final row): "track:1 = ␣Paris
 * (id 6342)" into buffer (capacity bytes), returned; else buffer is "" and
 * the result NULL. */
char *lens_metric_tracked_name(const lens_metric *metric, const lens_view *view, char *buffer, size_t capacity);

/* The colour scale of a metric over the cells shown: the values at its two
 * ends; ranks (kind LENS_METRIC_RANK) lie on a log scale. */
typedef struct lens_scale {
    lens_metric_kind kind;
    double low, high; /* the values at the two ends of the ramp, as printed */
} lens_scale;

/* The scale of `metric` over the cells of `view`: prob 0..1; logit over the
 * shown range; rank 1 .. the largest shown rank; kl and entropy 0 .. the
 * largest shown value. */
lens_scale lens_scale_over_view(const lens_metric *metric, const lens_view *view);

/* Where value lies on the ramp, 0 (dark end) .. 1 (bright end). Ranks are
 * placed on a log scale with rank 1 at the bright end; every other metric
 * rises linearly from low to high. */
double lens_scale_position(const lens_scale *scale, double value);

/* Formats a value the way cells and the legend print it (".92", "-3.1",
 * "17", "0.85"); returns buffer. */
char *lens_metric_format(lens_metric_kind kind, double value, char *buffer, size_t capacity);

/* ------------------------------------------------------------------------
 * Colour (lens_colour.c)
 * ---------------------------------------------------------------------- */

typedef enum lens_colour_mode {
    LENS_COLOUR_NONE,
    LENS_COLOUR_256,  /* the xterm 6x6x6 cube */
    LENS_COLOUR_TRUE, /* 24-bit */
} lens_colour_mode;

typedef struct lens_rgb {
    unsigned char r, g, b;
} lens_rgb;

/* The perceptually ordered ramp (viridis) at t in [0, 1]; t is clamped. */
lens_rgb lens_colour_ramp(double t);

/* True when black text contrasts more with background c than white does
 * (WCAG relative luminance). */
bool lens_colour_black_text_on(lens_rgb c);

/* The xterm-256 colour index of the 6x6x6 cube entry nearest to c. */
int lens_colour_xterm_index(lens_rgb c);

/* Starts a cell coloured c in mode: the background, and black or white text,
 * whichever contrasts more. Writes nothing in LENS_COLOUR_NONE. */
void lens_colour_begin(FILE *out, lens_colour_mode mode, lens_rgb c);

/* Ends a coloured span; nothing in LENS_COLOUR_NONE. */
void lens_colour_end(FILE *out, lens_colour_mode mode);

/* The mode for a --color choice: "always" / "never" / "auto" (auto:
 * colour when stdout is a terminal and NO_COLOR is unset or empty); the
 * depth follows COLORTERM (truecolor or 24bit: 24-bit, else 256). */
lens_colour_mode lens_colour_mode_for(const char *choice);

/* ------------------------------------------------------------------------
 * Text (lens_text.c)
 * ---------------------------------------------------------------------- */

/* Terminal columns the UTF-8 string s takes: one per code point, two for
 * wide East-Asian characters and emoji, none for combining marks. */
int lens_text_width(const char *s);

/* Copies s into buffer (capacity bytes with the NUL), cut to at most
 * max_width terminal columns; a cut string ends with an ellipsis that
 * counts in the width. Returns the width of what was written. */
int lens_text_fit(const char *s, int max_width, char *buffer, size_t capacity);

/* The terminal width: the tty's (ioctl TIOCGWINSZ on stdout), else
 * $COLUMNS, else 120. */
int lens_text_terminal_width(void);

/* ------------------------------------------------------------------------
 * Renderers
 * ---------------------------------------------------------------------- */

typedef struct lens_table_style {
    lens_metric metric;
    lens_colour_mode colour;
    bool top_down; /* input row at the top (default: at the bottom) */
    bool values;   /* append the metric value to each cell */
    int width;     /* terminal columns available */
} lens_table_style;

/* The terminal table (lens_table.c). */
void lens_table_print(FILE *out, const lens_view *view, const lens_table_style *style);

/* The legend under the table (lens_legend.c). */
void lens_legend_print(FILE *out, const lens_view *view, const lens_table_style *style);

/* JSON, schema "loupe.lens/1" (lens_json.c; docs/LENS_JSON.md) of a run's
 * view; returns 0, or prints the error and returns CLI_EXIT_FAILURE. */
int lens_json_print(FILE *out, const lens_view *view);

/* --compare-lenses (lens_compare_lenses.c): the logit lens and the tuned
 * lens of the same text, two views with the same rows and positions, side
 * by side per layer; a table, or JSON "loupe.lens_compare/1" holding the
 * per-layer comparison and both loupe.lens/1 documents (docs/TUNED_LENS.md).
 * Returns 0, or prints the error and returns CLI_EXIT_FAILURE. */
int lens_compare_lenses_print(FILE *out, const lens_view *logit, const lens_view *tuned, bool json);

/* The arrays out, `--export FILE.safetensors` (lens_export.c;
 * docs/LENS_OUTPUT.md). */
typedef struct lens_export_options {
    const char *path;          /* --export FILE.safetensors; NULL: no export */
    bool taps;                 /* --export-taps: the residual taps (R, P, C) */
    bool has_logprob_rows;     /* --export-logprobs ROWS given */
    lens_slice logprob_slice;  /* ROWS as typed */
    lens_window logprob_rows;  /* ROWS resolved over every row of the lens */
} lens_export_options;

/* The most log-probabilities one export holds: 2^28 floats, 1 GiB. */
#define LENS_EXPORT_MAX_LOGPROBS ((int64_t)1 << 28)

/* Checks the export options before the model runs: --export-taps and
 * --export-logprobs need --export, whose name ends in .safetensors and
 * whose folder takes the file; the log-probabilities of the rows asked for
 * at n_positions positions over n_vocab stay within
 * LENS_EXPORT_MAX_LOGPROBS. Returns 0, or prints a message and returns
 * CLI_EXIT_USAGE (2), or CLI_EXIT_FAILURE (1) when the file cannot be made. */
int lens_export_check(const lens_export_options *options, int n_positions, int n_vocab);

/* Writes the view's window of a run (view->result) as one safetensors file,
 * running model once more for the taps and log-probabilities when asked.
 * Returns 0, or prints an error and returns CLI_EXIT_FAILURE. */
int lens_export_write(const lens_view *view, const loupe_model *model, const lens_export_options *options);
/* Writes the lens document `text` (length bytes, one JSON object) to out;
 * with view->certified, its "certified" member (lens_certified.c;
 * docs/INTERVALS.md: the weight radius, each row's radius and each cell's
 * intervals, for the window) goes in before the object's closing brace. */
void lens_certified_json_write(FILE *out, const lens_view *view, const char *text, size_t length);

/* `--certify`: runs the certified lens for view's model and ids into
 * *certified (freed with certified_lens_free); the exit status (0, or 1
 * with the message printed). */
int lens_certified_run(const loupe_model *model, const int32_t *ids, int n_ids, bool subblocks,
                       double weight_radius, struct certified_lens **certified);

/* Parses --weight-radius's text: a number in [0, 1) or bf16 / f16; false
 * with the message printed. */
bool lens_certified_weight_radius(const char *text, double *radius);

/* CSV, one line per (row, position) (lens_csv.c; docs/LENS_OUTPUT.md);
 * with top_columns K > 1 the columns top2_* .. topK_* follow the others
 * (1: the top-1 columns only, the default). */
void lens_csv_print(FILE *out, const lens_view *view, int top_columns);

#endif
