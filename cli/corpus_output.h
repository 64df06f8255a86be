/*
 * corpus_output.h - what `loupe corpus` and `loupe count` share: reading
 * every document of the corpus files, the report of a corpus run, and its
 * renderers (terminal table, JSON "loupe.corpus/1", CSV, plots) and progress bar.
 *
 * Shapes: R lens rows (input, h1 .. hL, with sub-blocks also hN.attn),
 * B frequency buckets.
 */
#ifndef LOUPE_CORPUS_OUTPUT_H
#define LOUPE_CORPUS_OUTPUT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "loupe.h"

/* ------------------------------------------------------------------------
 * Reading the corpus files (corpus_input.c)
 * ---------------------------------------------------------------------- */

typedef struct corpus_source {
    char **paths; /* (n_paths) the files, "-" for standard input */
    int n_paths;
    loupe_corpus_reader_params reader; /* format, separator, strict */
} corpus_source;

/* Called once per document; return false to stop reading (not an error). */
typedef bool (*corpus_document_fn)(void *user, const loupe_corpus_document *document, const char *path);

/* Reads every document of every file in order, warnings printed on stderr
 * as "loupe: warning: ...". *stopped tells whether the callback stopped it.
 * Returns 0, or prints the error and returns CLI_EXIT_FAILURE. *bytes_done
 * (if not NULL) is kept current for progress reports: bytes consumed in
 * earlier files plus the current file's. */
int corpus_source_read(const corpus_source *source, corpus_document_fn on_document, void *user,
                       int64_t *skipped_lines, bool *stopped, int64_t *bytes_done);

/* Total bytes of the source files (0 where a size is unknown). */
int64_t corpus_source_total_bytes(const corpus_source *source);

/* Handles a reading option shared by corpus and count (--separator,
 * --jsonl, --plain, --strict); returns 1 when it did, 0 when the option is
 * not one of them. */
int corpus_source_option(corpus_source *source, int option, const char *argument);

/* getopt_long entries of those options, and their help lines. */
#define CORPUS_SOURCE_LONG_OPTIONS                                                                  \
    {"separator", required_argument, NULL, 1001}, {"jsonl", no_argument, NULL, 1002},              \
        {"plain", no_argument, NULL, 1003}, {"strict", no_argument, NULL, 1004}
#define CORPUS_SOURCE_HELP                                                                          \
    "  --separator S      plain text whose documents end at the string S (e.g.\n"                  \
    "                     '<|endoftext|>'); default: documents end at blank lines\n"                \
    "  --jsonl            JSON lines, one object per line, its \"text\" is the document\n"         \
    "                     (default: detected, JSONL when the first byte is '{')\n"                  \
    "  --plain            plain text even when the file starts with '{'\n"                          \
    "  --strict           a malformed JSONL line is an error (default: a warning\n"                 \
    "                     naming the line, and the line is skipped)\n"

/* ------------------------------------------------------------------------
 * The report of a run
 * ---------------------------------------------------------------------- */

typedef struct corpus_report {
    loupe_corpus_stats *stats;
    const loupe_model_info *info;
    const corpus_source *source;
    char (*row_names)[32];        /* (R) */
    int n_rows;                   /* R */
    loupe_corpus_window_params windows;
    int64_t documents, n_windows, positions, skipped_lines;
    int64_t max_tokens;           /* 0: no limit */
    const char *counts_path;      /* NULL without --counts */
    loupe_corpus_stats_params stats_params;
    bool subblocks;
    loupe_tuned_lens *tuned;      /* --tuned, or NULL: the logit lens */
    const char *tuned_directory;  /* its folder, or NULL: the logit lens */
    bool partial;                 /* stopped by Ctrl-C or an error: the aggregate so far */
    double seconds;
    const int32_t *track_ids;     /* (n_track) --track, in order */
    int n_track;
    char track_text[LOUPE_LENS_MAX_TRACK][128]; /* (n_track) each token's bytes (JSON "text") */
    size_t track_text_length[LOUPE_LENS_MAX_TRACK];
    char track_rendered[LOUPE_LENS_MAX_TRACK][128]; /* (n_track) as the table shows it */
} corpus_report;

/* Fills the report's track_text and track_rendered from the tokenizer
 * (corpus_report.c). */
void corpus_report_set_tracked(corpus_report *report, const loupe_tokenizer *tokenizer);

/* Sets n_rows and allocates row_names (caller frees) for a model of n_layer
 * layers and the report's subblocks, named as loupe_lens_row_label names
 * them: input, [hN.attn,] hN. False with a message when out of memory. */
bool corpus_report_set_rows(corpus_report *report, int n_layer);

/* The report's forms on standard output (--format). */
typedef enum corpus_format { CORPUS_FORMAT_TABLE, CORPUS_FORMAT_JSON, CORPUS_FORMAT_CSV } corpus_format;

/* The --format option of corpus and corpus-merge: "table", "json" or "csv"
 * (sets *format); false with a message otherwise. */
bool corpus_report_parse_format(const char *text, corpus_format *format);

/* Writes the report in format: corpus_table_print, corpus_json_print or
 * corpus_csv_print. */
void corpus_report_print(FILE *out, corpus_report *report, corpus_format format);

/* The table for the terminal (corpus_table.c). */
void corpus_table_print(FILE *out, corpus_report *report);
/* Its first lines: model, counts of positions, windows and documents, options, lens. */
void corpus_table_print_totals(FILE *out, const corpus_report *report);
/* A number in at most 9 columns into buffer: 4 significant digits, whole
 * numbers without an exponent up to 10^9, "-" when undefined. */
const char *corpus_format_value(double value, char *buffer, size_t capacity);

/* --compare-lenses (corpus_compare.c): the same corpus through the logit
 * lens and the tuned lens, the two reports having the same rows and
 * positions. The table puts the two lenses side by side per layer
 * (cross-entropy, bits per byte, KL(final || layer), the target's median
 * rank, top-1 = target); the JSON, schema "loupe.corpus_compare/1", holds
 * both loupe.corpus/1 documents (docs/TUNED_LENS.md). */
void corpus_compare_table_print(FILE *out, corpus_report *logit, corpus_report *tuned);
void corpus_compare_json_print(FILE *out, corpus_report *logit, corpus_report *tuned);

/* JSON, schema "loupe.corpus/1" (corpus_json.c; docs/CORPUS.md). */
void corpus_json_print(FILE *out, corpus_report *report);

/* CSV (corpus_csv.c; docs/CORPUS.md): the header
 * layer,metric,count,mean,p10,median,p90,exact, then per metric of the
 * JSON's "metrics" one line per row (R lines), then per row
 * ce_bits_per_byte, top1_is_final_top1 and top1_is_target with the number
 * in the mean column, and decision_layer with the count in the count
 * column. Numbers as the JSON writes them (%.9g), empty where it has null;
 * lines end in CRLF and fields are quoted as RFC 4180 says. No tracked
 * tokens or rarity (the JSON has them). */
void corpus_csv_print(FILE *out, corpus_report *report);

/* ------------------------------------------------------------------------
 * The plots (corpus_plot.c)
 * ---------------------------------------------------------------------- */

/* The metrics the plots draw, in this order (CORPUS_PLOT_METRICS). */
extern const loupe_corpus_metric corpus_plot_metrics[];
extern const char *const corpus_plot_metric_keys[]; /* their keys in loupe.corpus/1 */
enum { CORPUS_PLOT_METRICS = 7, CORPUS_PLOT_MAX_BUCKETS = 16, CORPUS_PLOT_MAX_ROWS = 1 + 2 * 1024 };

/* What the plots draw, taken from a run (corpus_plot_data_from_report) or
 * from a saved loupe.corpus/1 document (corpus_json_read), so that both
 * draw the same figure. Undefined values are NAN. */
typedef struct corpus_plot_data {
    int n_rows;                /* R */
    char (*row_names)[32];     /* (R) */
    double *median, *p10, *p90; /* (CORPUS_PLOT_METRICS x R), metric m of row r at [m * R + r] */
    double *top1_final, *top1_target; /* (R) fractions of positions */
    int n_buckets;             /* B: the non-empty frequency buckets among the first CORPUS_PLOT_MAX_BUCKETS */
    double bucket_low[CORPUS_PLOT_MAX_BUCKETS], bucket_high[CORPUS_PLOT_MAX_BUCKETS];
    int64_t bucket_positions[CORPUS_PLOT_MAX_BUCKETS];
    double *bucket_input_rank; /* (B x R) median input-token rank of bucket b, row r at [b * R + r] */
    char model_name[256];      /* the last component of the model's folder */
    int64_t positions;
    bool partial;
} corpus_plot_data;

/* A new, zeroed corpus_plot_data with room for n_rows rows (NULL when out
 * of memory); corpus_plot_data_free frees it (NULL is a no-op). */
corpus_plot_data *corpus_plot_data_create(int n_rows);
void corpus_plot_data_free(corpus_plot_data *data);

/* The plot data of a run; NULL when out of memory. */
corpus_plot_data *corpus_plot_data_from_report(corpus_report *report);

/* path with "-rarity" before its extension, into buffer (the rarity chart). */
void corpus_plot_rarity_path(const char *path, char *buffer, size_t capacity);

/* Draws per-layer curves with quantile bands to path, and, when the data
 * has frequency buckets, the rarity chart to corpus_plot_rarity_path.
 * Returns 0 or prints an error and returns CLI_EXIT_FAILURE. */
int corpus_plot_draw(const corpus_plot_data *data, const char *path);

/* The plots of a run: corpus_plot_draw of corpus_plot_data_from_report. */
int corpus_plot_write(corpus_report *report, const char *path);

/* The largest saved corpus document `loupe plot` reads. */
#define CORPUS_PLOT_MAX_JSON_BYTES ((size_t)1 << 30)

/* `loupe plot DOC --plot FILE` when DOC is a saved loupe.corpus/1 document:
 * draws what `loupe corpus --plot FILE` drew. Returns -1 when DOC is not
 * one (or cannot be read: the lens reader then says why), else the exit
 * status (an error printed; --summary is refused, it draws a lens). */
int corpus_plot_saved(const char *path, const char *plot_path, const char *summary_path);

/* `loupe plot A.json B.json ... --plot FILE`: n (2 .. 7) saved corpus
 * reports with the same rows overlaid in one figure, one colour per report
 * (corpus_plot_overlay.c). Returns the exit status (errors printed). */
int corpus_plot_overlay(const char *const *paths, int n, const char *plot_path);

/* ------------------------------------------------------------------------
 * Reading a saved loupe.corpus/1 document back (corpus_json_read.c)
 * ---------------------------------------------------------------------- */

/* True when text (length bytes) is a JSON object whose "schema" is
 * "loupe.corpus/1" (whether the rest is valid is corpus_json_read's job). */
bool corpus_json_is_corpus(const char *text, size_t length);

/* Reads what the plots draw from a loupe.corpus/1 document (docs/CORPUS.md)
 * of length bytes; name names it in messages. Every field used is checked
 * (types, R rows everywhere, fractions in 0 .. 1), and a failure is
 * LOUPE_ERROR_FORMAT naming the file and the field, e.g.
 * "c.json: metrics.target_rank[3].median: expected a number or null, got a
 * string". *data is NULL on failure; free with corpus_plot_data_free. */
loupe_status corpus_json_read(const char *text, size_t length, const char *name, corpus_plot_data **data,
                              loupe_error *error);

/* ------------------------------------------------------------------------
 * Progress on stderr (corpus_progress.c)
 * ---------------------------------------------------------------------- */

typedef struct corpus_progress {
    bool enabled;
    double started, last_drawn; /* seconds, monotonic */
    int64_t total_bytes;        /* 0 when unknown */
    int64_t max_tokens;         /* 0: no limit */
} corpus_progress;

/* Seconds on a monotonic clock. */
double corpus_progress_now(void);

/* Starts the clock; enabled when `mode` is "always", or "auto" with stderr
 * a terminal. */
void corpus_progress_start(corpus_progress *progress, const char *mode, int64_t total_bytes, int64_t max_tokens);

/* Redraws the line (at most five times a second unless force): documents,
 * tokens scored, tokens/s, percent and ETA from bytes or --max-tokens.
 * bytes: the corpus bytes done, the document being scored counted by the
 * share of its tokens scored (fractional), so that the fraction follows the
 * work and not the reading, which runs a whole document ahead. */
void corpus_progress_update(corpus_progress *progress, int64_t documents, int64_t tokens, double bytes,
                            bool force);

/* The line itself into buffer: a bar and the percent of done (a fraction,
 * clamped to 0 .. 1), "N document(s)", the tokens, tokens per second over
 * elapsed seconds, and the ETA elapsed * (1 - done) / done ("?" at 0):
 * the ETA always follows the percent shown. */
void corpus_progress_format(char *buffer, size_t capacity, double done, double elapsed, int64_t documents,
                            int64_t tokens);

/* Clears the line. */
void corpus_progress_finish(corpus_progress *progress);

#endif
