/*
 * cmd_plot.c - `loupe plot LENS.json`: draws a lens saved with `loupe lens
 * --format json` (its window included) without running the model. Only the
 * model's tokenizer is opened, to write the top tokens' text.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "corpus_output.h"
#include "lens_output.h"
#include "loupe_internal.h"
#include "plot.h"

/* The largest lens document read: 100 tokens x 49 rows with top-100 cells
 * is about 30 MB. */
#define PLOT_MAX_JSON_BYTES ((size_t)1 << 30)

static const char usage[] =
    "usage: loupe plot [options] --plot FILE [--summary FILE] LENS.json\n"
    "       loupe plot --plot FILE CORPUS.json\n"
    "       loupe plot --plot FILE CORPUS.json CORPUS.json...\n"
    "\n"
    "Draws a lens saved with `loupe lens --format json` without running the model:\n"
    "the heatmap (rows = layers, columns = positions, each cell the top-1 token\n"
    "coloured by the metric) and per-layer summary line plots. The extension of\n"
    "FILE picks the format: .png, .svg or .html (an interactive page). A document\n"
    "saved with --layers or --positions draws that window. A document saved with\n"
    "`loupe corpus --format json` is redrawn as `loupe corpus --plot FILE` drew it\n"
    "(with its rarity chart to FILE-rarity.EXT when it has one). Two or more saved\n"
    "corpus documents are overlaid in one figure, one colour per report.\n"
    "\n"
    "  --plot FILE        the heatmap\n"
    "  --summary FILE     per layer, the mean over positions of the four KLs and the\n"
    "                     median of the target and input ranks (log scale)\n"
    "  --metric M         prob, logit, rank, kl or entropy (default prob; certainty\n"
    "                     only from loupe lens --certify)\n"
    "  --vs final|first   compare with the final row (default) or the input row\n"
    "  --kl forward|reverse  the direction of KL (default forward)\n"
    "  --token final-top|target  which token prob/logit/rank follow with --vs final\n"
    "  --top-down         the input row at the top (default: at the bottom)\n"
    "  --dpi N            resolution of PNG pictures, 36 to 1200 (default 144)\n"
    "  --columns N        PNG/SVG heatmaps wrap into panels of at most N positions\n"
    "                     (default 64)\n"
    "  --values           the metric's value after each cell's token (PNG/SVG)\n"
    "  --layers A:B       draw rows A .. B-1 only, --positions A:B positions A .. B-1\n"
    "                     only: Python slices of the lens's rows and positions\n"
    "                     (as for loupe lens), within those the document holds\n"
    "  --model DIR        the model folder whose tokenizer writes the tokens (default:\n"
    "                     the document's model.directory, else the embedded model)\n"
    "  --help             show this help\n"
    "\n"
    "See docs/PLOTS.md.\n";

typedef struct plot_command_options {
    const char *model, *plot, *summary, *input;
    const char *const *inputs; /* (n_inputs) */
    int n_inputs;
    double dpi;
    bool top_down;
    lens_metric metric;
    long columns; /* --columns N (0: the default) */
    bool values;
    bool has_rows, has_positions;
    lens_slice rows, positions; /* --layers, --positions */
} plot_command_options;

/* Parses argv; returns -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, plot_command_options *chosen) {
    static const struct option options[] = {
        {"model", required_argument, NULL, 'm'}, {"plot", required_argument, NULL, 'p'},
        {"summary", required_argument, NULL, 'S'}, {"metric", required_argument, NULL, 'M'},
        {"vs", required_argument, NULL, 'V'},    {"kl", required_argument, NULL, 'K'},
        {"token", required_argument, NULL, 'T'}, {"top-down", no_argument, NULL, 'd'},
        {"dpi", required_argument, NULL, 'D'},   {"help", no_argument, NULL, 'h'},
        {"columns", required_argument, NULL, 'c'}, {"values", no_argument, NULL, 'v'},
        {"layers", required_argument, NULL, 'L'}, {"positions", required_argument, NULL, 'P'},
        {NULL, 0, NULL, 0},
    };
    *chosen = (plot_command_options){.dpi = PLOT_DEFAULT_DPI};
    int option;
    bool ok = true;
    optind = 1;
    while (ok && (option = getopt_long(argc, argv, "m:h", options, NULL)) != -1) {
        switch (option) {
        case 'm': chosen->model = optarg; break;
        case 'p': ok = plot_check_path("--plot", optarg); chosen->plot = optarg; break;
        case 'S': ok = plot_check_path("--summary", optarg); chosen->summary = optarg; break;
        case 'M': ok = lens_metric_option("--metric", optarg, &chosen->metric); break;
        case 'V': ok = lens_metric_option("--vs", optarg, &chosen->metric); break;
        case 'K': ok = lens_metric_option("--kl", optarg, &chosen->metric); break;
        case 'T': ok = lens_metric_option("--token", optarg, &chosen->metric); break;
        case 'd': chosen->top_down = true; break;
        case 'D': ok = cli_parse_float("--dpi", optarg, 36.0, 1200.0, &chosen->dpi); break;
        case 'c': ok = cli_parse_int("--columns", optarg, 1, 100000, &chosen->columns); break;
        case 'v': chosen->values = true; break;
        case 'L':
            ok = lens_slice_parse("--layers", optarg, &chosen->rows);
            chosen->has_rows = true;
            break;
        case 'P':
            ok = lens_slice_parse("--positions", optarg, &chosen->positions);
            chosen->has_positions = true;
            break;
        case 'h': fputs(usage, stdout); return CLI_EXIT_OK;
        default: fputs(usage, stderr); return CLI_EXIT_USAGE;
        }
    }
    if (!ok) return CLI_EXIT_USAGE;
    if (argc - optind < 1) {
        cli_error("plot: expected one lens JSON file (loupe lens --format json), got %d arguments", argc - optind);
        return CLI_EXIT_USAGE;
    }
    if (chosen->plot == NULL && chosen->summary == NULL) {
        cli_error("plot: nothing to draw: give --plot FILE and/or --summary FILE");
        return CLI_EXIT_USAGE;
    }
    chosen->input = argv[optind];
    chosen->inputs = (const char *const *)argv + optind;
    chosen->n_inputs = argc - optind;
    return -1;
}

/* Reads and validates the document. Returns 0 or prints the error. */
static int read_lens(const char *path, loupe_lens_saved **saved) {
    char *text = NULL;
    size_t length = 0;
    loupe_error error;
    if (file_read_all(path, PLOT_MAX_JSON_BYTES, &text, &length, &error) != LOUPE_OK ||
        loupe_lens_read_json(text, length, path, saved, &error) != LOUPE_OK) {
        free(text);
        return cli_fail(&error);
    }
    free(text);
    return 0;
}

/* Opens the tokenizer that writes the document's ids: --model, else the
 * folder the document names when it still has a vocab.json, else the
 * embedded model. Returns 0 or prints the error. */
static int open_tokenizer(const char *requested, const loupe_lens_saved *saved, const char *path,
                          loupe_tokenizer **tokenizer) {
    char *directory = NULL;
    if (requested == NULL) {
        char *vocab = path_join(saved->model_directory, "vocab.json");
        FILE *probe = vocab ? fopen(vocab, "rb") : NULL;
        if (probe != NULL) {
            fclose(probe);
            directory = path_join(saved->model_directory, "");
        }
        free(vocab);
    }
    if (directory == NULL) directory = cli_model_directory(requested);
    if (directory == NULL) return CLI_EXIT_FAILURE;
    loupe_error error;
    loupe_status status = loupe_tokenizer_open(directory, tokenizer, &error);
    free(directory);
    if (status != LOUPE_OK) return cli_fail(&error);
    if (saved->max_id >= loupe_tokenizer_vocab_size(*tokenizer)) {
        cli_error("%s: token id %d is beyond the tokenizer's %d tokens; give the lens's model with --model", path,
                  saved->max_id, loupe_tokenizer_vocab_size(*tokenizer));
        loupe_tokenizer_close(*tokenizer);
        *tokenizer = NULL;
        return CLI_EXIT_FAILURE;
    }
    return 0;
}

/* Several files: saved corpus reports overlaid; a lens document first
 * keeps the one-lens message. */
static int overlay(const plot_command_options *chosen) {
    char *text = NULL;
    size_t length = 0;
    loupe_error error;
    bool corpus = file_read_all(chosen->input, CORPUS_PLOT_MAX_JSON_BYTES, &text, &length, &error) == LOUPE_OK &&
                  corpus_json_is_corpus(text, length);
    free(text);
    if (!corpus) {
        cli_error("plot: expected one lens JSON file (loupe lens --format json), got %d arguments", chosen->n_inputs);
        return CLI_EXIT_USAGE;
    }
    if (chosen->summary != NULL) {
        cli_error("plot: %s is a corpus document: it draws with --plot only (--summary draws a lens)", chosen->input);
        return CLI_EXIT_USAGE;
    }
    return corpus_plot_overlay(chosen->inputs, chosen->n_inputs, chosen->plot);
}

/* Narrows *window, the saved document's [first, end) of n_all indices, to
 * the slice asked for; false with a message when nothing of it is left. */
static bool narrow(const char *option, const lens_slice *slice, int n_all, lens_window *window) {
    lens_window asked;
    if (!lens_slice_resolve(option, slice, n_all, &asked)) return false;
    int first = asked.first > window->first ? asked.first : window->first;
    int end = asked.end < window->end ? asked.end : window->end;
    if (first >= end) {
        cli_error("%s: the slice selects none of the document's %d .. %d", option, window->first, window->end - 1);
        return false;
    }
    *window = (lens_window){first, end};
    return true;
}

int cmd_plot(int argc, char **argv) {
    plot_command_options chosen;
    int status = parse_options(argc, argv, &chosen);
    if (status >= 0) return status;
    if (chosen.metric.kind == LENS_METRIC_CERTAINTY) {
        cli_error("plot: --metric certainty needs the certified lens: draw it with loupe lens --certify --plot");
        return CLI_EXIT_USAGE;
    }
    status = plot_outputs_check(chosen.plot, chosen.summary);
    if (status == 0 && chosen.n_inputs > 1) return overlay(&chosen);
    if (status == 0) status = corpus_plot_saved(chosen.input, chosen.plot, chosen.summary);
    if (status >= 0) return status;
    loupe_lens_saved *saved = NULL;
    status = read_lens(chosen.input, &saved);
    if (status != 0) return status;
    if (chosen.metric.token == LENS_TOKEN_TRACKED && chosen.metric.tracked >= saved->n_track) {
        cli_error("--token track:%d: only %d token%s tracked (--track)", chosen.metric.tracked + 1, saved->n_track,
                  saved->n_track == 1 ? " is" : "s are");
        loupe_lens_saved_free(saved);
        return CLI_EXIT_USAGE;
    }
    loupe_tokenizer *tokenizer = NULL;
    status = open_tokenizer(chosen.model, saved, chosen.input, &tokenizer);
    if (status == 0) {
        lens_view view = {
            .saved = saved,
            .tokenizer = tokenizer,
            .info = &saved->info,
            .rows = {saved->row_first, saved->row_end},
            .positions = {saved->position_first, saved->position_end},
            .topk = saved->topk,
            .subblocks = saved->subblocks,
            .contributions = saved->contributions,
        };
        plot_style style = {.metric = chosen.metric, .top_down = chosen.top_down, .dpi = chosen.dpi,
                            .model_name = saved->model_name, .columns = (int)chosen.columns,
                            .values = chosen.values};
        int n_rows = loupe_lens_row_count(saved->info.n_layer, saved->subblocks);
        if ((chosen.has_rows && !narrow("--layers", &chosen.rows, n_rows, &view.rows)) ||
            (chosen.has_positions && !narrow("--positions", &chosen.positions, saved->position_end, &view.positions)))
            status = CLI_EXIT_USAGE;
        else
            status = plot_outputs_write(&view, &style, chosen.plot, chosen.summary);
    }
    loupe_tokenizer_close(tokenizer);
    loupe_lens_saved_free(saved);
    return status;
}
