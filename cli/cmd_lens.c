/*
 * cmd_lens.c - `loupe lens`: the logit lens of a text as a terminal table,
 * JSON or CSV, and as pictures. Parses the options, runs loupe_lens_run and
 * hands the result to one renderer (lens_table.c, lens_json.c, lens_csv.c)
 * and to the plots (plot.h) asked for with --plot and --summary.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lens_batch.h"
#include "lens_output.h"
#include "loupe_internal.h"
#include "plot.h"

static const char usage[] =
    "usage: loupe lens [--model DIR] [options] [--file PATH | --ids LIST] [TEXT...]\n"
    "\n"
    "The logit lens of a text: what the model would predict at every position if\n"
    "it stopped after each layer. The table has one row per lens row (input = the\n"
    "embeddings, hN = after block N, hN.attn = after block N's attention with\n"
    "--subblocks) and one column per position, headed by the input token; each\n"
    "cell is that row's top-1 guess for the next token, its background coloured\n"
    "by the metric. A '*' above a column marks where the model's final top-1 is\n"
    "the true next token.\n"
    "\n"
    "  --model DIR        a Hugging Face model folder (default: the embedded gpt2-demo)\n"
    "  --file PATH        read the text from a file (default: the arguments, else stdin);\n"
    "                     one trailing newline (\\n or \\r\\n) of a file or stdin is dropped\n"
    "  --keep-newline     keep that newline\n"
    "  --no-special       read special tokens in the text (<|endoftext|>) as plain text,\n"
    "                     and add none around it (no BOS of a tokenizer.json)\n"
    "  --ids LIST         run on token ids instead of a text, e.g. --ids 464,2068,7586\n"
    "  --bos              put the model's BOS token (<|endoftext|>) first\n"
    "  --format F         table, json or csv (default table; docs/LENS_JSON.md and\n"
    "                     docs/LENS_OUTPUT.md describe json and csv)\n"
    "  --topk K           top tokens kept per cell in json, 1 to 100 (default 5);\n"
    "                     in csv, given, it adds the columns top2_* .. topK_*\n"
    "  --subblocks        add a row after each block's attention (hN.attn)\n"
    "  --precision P      f32 (default: the exact lens) or bf16: the projections in\n"
    "                     BF16 with AVX512_BF16, faster, each json cell with a proven\n"
    "                     logit_error_bound (docs/PRECISION.md)\n"
    "  --tuned LENSDIR    the tuned lens of LENSDIR (config.json and params.safetensors\n"
    "                     or params.pt, docs/TUNED_LENS.md) instead of the logit lens\n"
    "  --compare-lenses   with --tuned: the logit lens and the tuned lens side by side\n"
    "                     per layer (cross-entropy, KL, top-1s, the next-token guess);\n"
    "                     table or json (loupe.lens_compare/1)\n"
    "  --contributions    add rows hN.attn_out and hN.mlp_out: what block N's\n"
    "                     attention and MLP add to the residual, read through the\n"
    "                     final norm and unembedding; json adds each one's direct\n"
    "                     logit attribution to the target and final top-1 tokens\n"
    "                     (docs/METRICS.md)\n"
    "  --track TOKEN      follow a token in every cell: its probability, logit and\n"
    "                     rank (json: \"tracked\"; colour it with --token track:N);\n"
    "                     a token's text (\" Paris\", one token) or, all digits, its\n"
    "                     id; one token per --track, up to 16\n"
    "  --layers A:B       show rows A .. B-1 only (row 0 = input, row N = hN; with\n"
    "                     --subblocks the hN.attn rows count too)\n"
    "  --positions A:B    show positions A .. B-1 only (0 = the first token)\n"
    "                     Both are Python slices: either end may be left out\n"
    "                     (\":3\", \"2:\"), a negative end counts from the end (\"-3:\"\n"
    "                     is the last three); they window json and csv too.\n"
    "  --metric M         what colours the cells (default prob):\n"
    "                       prob, logit, rank  of a token in the row's distribution:\n"
    "                         --vs final: the final row's top-1 token at that position\n"
    "                         (--token final-top, the default) or the true next token\n"
    "                         (--token target; undefined, so uncoloured, at the last\n"
    "                         position); --vs first: the input token at that position\n"
    "                       kl       --vs final: KL(final || row) (--kl forward, the\n"
    "                                default) or KL(row || final) (--kl reverse);\n"
    "                                --vs first: KL(input || row) or KL(row || input)\n"
    "                       entropy  the entropy of the row's distribution\n"
    "                       certainty  with --certify: the top-1's margin over the\n"
    "                                runner-up in units of their combined radius, on\n"
    "                                a log scale from 1; uncoloured (marked \"-\" with\n"
    "                                --values) where the top-1 is not certain\n"
    "                     Scales: prob 0 .. 1; logit over the range shown; rank on a\n"
    "                     log scale, rank 1 brightest; kl and entropy 0 .. the largest\n"
    "                     value shown. The ramp is viridis (dark = low, bright = high).\n"
    "  --vs final|first   compare with the final row (default) or the input row\n"
    "  --kl forward|reverse  the direction of KL (default forward)\n"
    "  --token final-top|target|track:N  which token prob/logit/rank follow with\n"
    "                     --vs final; track:N is the Nth --track token\n"
    "  --values           append the metric's value to each cell (\"light .92\"), in\n"
    "                     the table and in PNG/SVG heatmaps (HTML: in each tooltip)\n"
    "  --top-down         the input row at the top (default: at the bottom)\n"
    "  --color WHEN       auto, always or never (default auto: colour when stdout is\n"
    "                     a terminal and NO_COLOR is unset; 24-bit colour when\n"
    "                     COLORTERM is truecolor or 24bit, else 256 colours)\n"
    "  --width N          columns to fit the table in; wider tables wrap into blocks\n"
    "                     (default: the terminal's width, else $COLUMNS, else 120)\n"
    "  --plot FILE        also draw the heatmap to FILE: .png, .svg or .html (an\n"
    "                     interactive page); coloured by --metric, --vs, --kl, --token\n"
    "  --summary FILE     also draw per-layer line plots to FILE (.png, .svg, .html):\n"
    "                     the mean over positions of the four KLs and the median\n"
    "                     of the target and input ranks\n"
    "  --dpi N            resolution of PNG pictures, 36 to 1200 (default 144)\n"
    "  --columns N        PNG/SVG heatmaps wrap into panels of at most N positions\n"
    "                     (default 64); an HTML grid scrolls sideways instead\n"
    "  --export FILE.safetensors  also write the window's arrays: one (rows x\n"
    "                     positions) tensor per cell field of the json, named as\n"
    "                     it (target_prob, input_rank, kl_final, ...), top_ids,\n"
    "                     top_probs, tokens, tracked_* (docs/LENS_OUTPUT.md)\n"
    "  --export-taps      with --export: the residual taps (rows x positions x C)\n"
    "  --export-logprobs ROWS  with --export: the full-vocabulary log-probabilities\n"
    "                     of rows ROWS (a slice as --layers takes, over all rows)\n"
    "                     With --plot, --summary or --export nothing is printed unless\n"
    "                     --format is given.\n"
    "  --batch FILE       many prompts, one JSON object per line ({\"text\": ...} or\n"
    "                     {\"ids\": [...]}, an optional \"id\" echoed): one lens JSON\n"
    "                     per line out, the model loaded once (README: Many prompts)\n"
    "  --strict           with --batch: a bad line is an error (default: skipped)\n"
    "  --window N         a text longer than the context: the lens of windows of N\n"
    "                     tokens (at most the context), each position taken from\n"
    "                     the window where it has the most left context, as\n"
    "                     loupe corpus scores them\n"
    "  --stride S         tokens between window starts, 1 to N-1 (default N/2)\n"
    "  --certify          also run the lens in interval arithmetic: every cell's\n"
    "                     logits as intervals that contain the exact real result;\n"
    "                     json gains \"certified\" members (docs/INTERVALS.md)\n"
    "  --weight-radius R  with --certify: widen every weight to w [1-R, 1+R]; bf16\n"
    "                     and f16 name those formats' unit roundoff (default 0)\n"
    "  --help             show this help\n";

typedef enum lens_format { LENS_FORMAT_TABLE, LENS_FORMAT_JSON, LENS_FORMAT_CSV } lens_format;

/* getopt_long values of the options that have no short letter. */
enum {
    LENS_OPTION_BATCH = 0x240, LENS_OPTION_STRICT, LENS_OPTION_WINDOW, LENS_OPTION_STRIDE, LENS_OPTION_COLUMNS,
    LENS_OPTION_CONTRIBUTIONS,
    LENS_OPTION_COMPARE_LENSES,
};

/* Sets *value to the index of text among names (n); false with a message
 * naming the option otherwise. */
static bool parse_choice(const char *option, const char *text, const char *const *names, int n, int *value) {
    for (int i = 0; i < n; i++)
        if (strcmp(text, names[i]) == 0) {
            *value = i;
            return true;
        }
    char expected[128] = "";
    for (int i = 0; i < n; i++) {
        size_t used = strlen(expected);
        snprintf(expected + used, sizeof expected - used, "%s%s", i ? ", " : "", names[i]);
    }
    cli_error("%s: expected one of %s, got '%s'", option, expected, text);
    return false;
}

bool lens_metric_option(const char *option, const char *text, lens_metric *metric) {
    static const char *const comparisons[] = {"final", "first"};
    static const char *const directions[] = {"forward", "reverse"};
    static const char *const tokens[] = {"final-top", "target"};
    int choice = 0;
    if (strcmp(option, "--metric") == 0) {
        if (!parse_choice(option, text, lens_metric_names, 6, &choice)) return false;
        metric->kind = (lens_metric_kind)choice;
    } else if (strcmp(option, "--vs") == 0) {
        if (!parse_choice(option, text, comparisons, 2, &choice)) return false;
        metric->vs = (lens_comparison)choice;
    } else if (strcmp(option, "--kl") == 0) {
        if (!parse_choice(option, text, directions, 2, &choice)) return false;
        metric->kl = (lens_kl_direction)choice;
    } else if (strncmp(text, "track:", 6) == 0) {
        long index = 0;
        if (!cli_parse_int(option, text + 6, 1, LOUPE_LENS_MAX_TRACK, &index)) return false;
        metric->token = LENS_TOKEN_TRACKED;
        metric->tracked = (int)index - 1;
    } else {
        if (!parse_choice(option, text, tokens, 2, &choice)) return false;
        metric->token = (lens_token_choice)choice;
    }
    return true;
}

/* Everything the command line chose. */
typedef struct lens_command_options {
    const char *model, *colour, *plot, *summary, *tuned;
    cli_text_options text;
    long topk, width;
    double dpi;
    bool subblocks, contributions, top_down, values, has_width, has_format, has_topk, compare_lenses;
    bool certify, has_weight_radius;
    double weight_radius;
    int format, precision;
    lens_metric metric;
    lens_slice rows, positions;
    const char *batch; /* --batch FILE */
    bool strict, has_positions;
    long window, stride; /* --window N (0: none), --stride S (0: N / 2) */
    long columns;        /* --columns N (0: the default) */
    cli_track_list track;
    lens_export_options export;
} lens_command_options;

/* Parses argv; returns -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, lens_command_options *chosen) {
    static const struct option options[] = {
        {"model", required_argument, NULL, 'm'},  {"file", required_argument, NULL, 'f'},
        {"topk", required_argument, NULL, 'k'},   {"subblocks", no_argument, NULL, 's'},
        {"format", required_argument, NULL, 'F'}, {"metric", required_argument, NULL, 'M'},
        {"vs", required_argument, NULL, 'V'},     {"kl", required_argument, NULL, 'K'},
        {"token", required_argument, NULL, 'T'},  {"layers", required_argument, NULL, 'L'},
        {"positions", required_argument, NULL, 'P'}, {"top-down", no_argument, NULL, 'd'},
        {"color", required_argument, NULL, 'c'},  {"colour", required_argument, NULL, 'c'},
        {"width", required_argument, NULL, 'w'},  {"values", no_argument, NULL, 'v'},
        {"plot", required_argument, NULL, 'p'},   {"summary", required_argument, NULL, 'S'},
        {"dpi", required_argument, NULL, 'D'},      {"tuned", required_argument, NULL, 'U'},
        {"precision", required_argument, NULL, 'r'},
        CLI_TEXT_LONG_OPTIONS,
        {"batch", required_argument, NULL, LENS_OPTION_BATCH}, {"strict", no_argument, NULL, LENS_OPTION_STRICT},
        {"window", required_argument, NULL, LENS_OPTION_WINDOW}, {"stride", required_argument, NULL, LENS_OPTION_STRIDE},
        {"columns", required_argument, NULL, LENS_OPTION_COLUMNS},
        {"certify", no_argument, NULL, 'C'},      {"weight-radius", required_argument, NULL, 'W'},
        {"track", required_argument, NULL, 't'},  {"export", required_argument, NULL, 'X'},
        {"export-taps", no_argument, NULL, 'A'},  {"contributions", no_argument, NULL, LENS_OPTION_CONTRIBUTIONS},
        {"export-logprobs", required_argument, NULL, 'G'},
        {"compare-lenses", no_argument, NULL, LENS_OPTION_COMPARE_LENSES},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    static const char *const formats[] = {"table", "json", "csv"};
    static const char *const colours[] = {"auto", "always", "never"};
    static const char *const precisions[] = {"f32", "bf16"}; /* in loupe_precision's order */
    memset(chosen, 0, sizeof *chosen);
    chosen->topk = loupe_lens_default_params().topk;
    chosen->colour = "auto";
    chosen->dpi = PLOT_DEFAULT_DPI;
    int option, choice = 0;
    bool ok = true;
    optind = 1;
    while (ok && (option = getopt_long(argc, argv, "m:f:k:h", options, NULL)) != -1) {
        switch (option) {
        case 'm': chosen->model = optarg; break;
        case 'f': chosen->text.file = optarg; break;
        case 'k':
            ok = cli_parse_int("--topk", optarg, 1, LOUPE_LENS_MAX_TOPK, &chosen->topk);
            chosen->has_topk = true;
            break;
        case 's': chosen->subblocks = true; break;
        case 'U': chosen->tuned = optarg; break;
        case LENS_OPTION_CONTRIBUTIONS: chosen->contributions = true; break;
        case LENS_OPTION_COMPARE_LENSES: chosen->compare_lenses = true; break;
        case 'F':
            ok = parse_choice("--format", optarg, formats, 3, &choice);
            chosen->format = choice;
            chosen->has_format = true;
            break;
        case 'M': ok = lens_metric_option("--metric", optarg, &chosen->metric); break;
        case 'V': ok = lens_metric_option("--vs", optarg, &chosen->metric); break;
        case 'K': ok = lens_metric_option("--kl", optarg, &chosen->metric); break;
        case 'T': ok = lens_metric_option("--token", optarg, &chosen->metric); break;
        case 'p': ok = plot_check_path("--plot", optarg); chosen->plot = optarg; break;
        case 'S': ok = plot_check_path("--summary", optarg); chosen->summary = optarg; break;
        case 'D': ok = cli_parse_float("--dpi", optarg, 36.0, 1200.0, &chosen->dpi); break;
        case 'L': ok = lens_slice_parse("--layers", optarg, &chosen->rows); break;
        case 'P':
            ok = lens_slice_parse("--positions", optarg, &chosen->positions);
            chosen->has_positions = true;
            break;
        case LENS_OPTION_BATCH: chosen->batch = optarg; break;
        case LENS_OPTION_STRICT: chosen->strict = true; break;
        case LENS_OPTION_WINDOW: ok = cli_parse_int("--window", optarg, 2, INT32_MAX, &chosen->window); break;
        case LENS_OPTION_STRIDE: ok = cli_parse_int("--stride", optarg, 1, INT32_MAX, &chosen->stride); break;
        case LENS_OPTION_COLUMNS: ok = cli_parse_int("--columns", optarg, 1, 100000, &chosen->columns); break;
        case 'd': chosen->top_down = true; break;
        case 'c':
            ok = parse_choice("--color", optarg, colours, 3, &choice);
            chosen->colour = colours[choice];
            break;
        case 'w':
            ok = cli_parse_int("--width", optarg, 20, 100000, &chosen->width);
            chosen->has_width = true;
            break;
        case 'v': chosen->values = true; break;
        case 'r': ok = parse_choice("--precision", optarg, precisions, 2, &chosen->precision); break;
        case 'C': chosen->certify = true; break;
        case 'W':
            ok = lens_certified_weight_radius(optarg, &chosen->weight_radius);
            chosen->has_weight_radius = true;
            break;
        case 't': ok = cli_track_add(optarg, &chosen->track); break;
        case 'X': chosen->export.path = optarg; break;
        case 'A': chosen->export.taps = true; break;
        case 'G':
            ok = lens_slice_parse("--export-logprobs", optarg, &chosen->export.logprob_slice);
            chosen->export.has_logprob_rows = true;
            break;
        case 'h': fputs(usage, stdout); return CLI_EXIT_OK;
        default:
            if (cli_text_option(option, optarg, &chosen->text)) break;
            fputs(usage, stderr);
            return CLI_EXIT_USAGE;
        }
    }
    if (ok && chosen->stride > 0 && chosen->window == 0) {
        cli_error("--stride applies to --window only");
        ok = false;
    } else if (ok && chosen->window > 0 && chosen->stride >= chosen->window) {
        cli_error("--stride: expected a whole number from 1 to %ld (the window minus 1), got '%ld'",
                  chosen->window - 1, chosen->stride);
        ok = false;
    }
    if (ok && chosen->has_weight_radius && !chosen->certify) {
        cli_error("--weight-radius needs --certify");
        ok = false;
    }
    if (ok && chosen->metric.kind == LENS_METRIC_CERTAINTY && !chosen->certify) {
        cli_error("--metric certainty needs --certify");
        ok = false;
    }
    if (ok && chosen->metric.token == LENS_TOKEN_TRACKED && chosen->metric.tracked >= chosen->track.count) {
        cli_error("--token track:%d: only %d token%s tracked (--track)", chosen->metric.tracked + 1,
                  chosen->track.count, chosen->track.count == 1 ? " is" : "s are");
        ok = false;
    }
    return ok ? -1 : CLI_EXIT_USAGE;
}

/* `loupe lens --batch`: the options that apply handed on to lens_batch.c,
 * the others refused. */
static int run_batch(const lens_command_options *chosen, int n_words) {
    if (n_words > 0 || chosen->text.file != NULL || chosen->text.ids != NULL) {
        cli_error("--batch: the prompts come from its file only: give no text, --file or --ids");
        return CLI_EXIT_USAGE;
    }
    if ((chosen->has_format && chosen->format != LENS_FORMAT_JSON) || chosen->plot != NULL ||
        chosen->summary != NULL) {
        cli_error("--batch writes JSON lines: --format table or csv, --plot and --summary do not apply");
        return CLI_EXIT_USAGE;
    }
    if (chosen->has_positions || chosen->window > 0) {
        cli_error("--batch writes every position of each prompt: --positions and --window do not apply");
        return CLI_EXIT_USAGE;
    }
    lens_batch_options options = {.model = chosen->model, .path = chosen->batch, .strict = chosen->strict,
                                  .no_special = chosen->text.no_special, .bos = chosen->text.bos,
                                  .subblocks = chosen->subblocks, .topk = (int)chosen->topk,
                                  .precision = (loupe_precision)chosen->precision, .rows = chosen->rows};
    return lens_batch_command(&options);
}

/* --compare-lenses: runs the logit lens on the same text (params without
 * the tuned lens) and prints it beside the tuned lens's view. */
static int compare_lenses(const cli_input *input, const loupe_lens_params *params, const lens_view *tuned,
                          bool json) {
    loupe_lens_params logit_params = *params;
    logit_params.tuned = NULL;
    loupe_lens_result *logit = NULL;
    loupe_error error;
    if (loupe_lens_run(input->model, input->ids, (int)input->n_ids, &logit_params, &logit, &error) != LOUPE_OK)
        return cli_fail(&error);
    lens_view logit_view = *tuned;
    logit_view.result = logit;
    logit_view.tuned_directory = NULL;
    int status = lens_compare_lenses_print(stdout, &logit_view, tuned, json);
    loupe_lens_free(logit);
    return status;
}

int cmd_lens(int argc, char **argv) {
    lens_command_options chosen;
    int status = parse_options(argc, argv, &chosen);
    if (status >= 0) return status;
    if (chosen.certify && (chosen.tuned != NULL || chosen.batch != NULL || chosen.window > 0)) {
        cli_error("--certify runs the logit lens of one text in one window: not with --tuned, --batch or --window");
        return CLI_EXIT_USAGE;
    }
    if (chosen.compare_lenses && chosen.tuned == NULL) {
        cli_error("--compare-lenses compares the logit lens with a tuned lens: give --tuned LENSDIR");
        return CLI_EXIT_USAGE;
    }
    if (chosen.compare_lenses &&
        ((chosen.has_format && chosen.format == LENS_FORMAT_CSV) || chosen.plot != NULL || chosen.summary != NULL ||
         chosen.export.path != NULL || chosen.export.taps || chosen.export.has_logprob_rows)) {
        cli_error("--compare-lenses prints a table or JSON: not with --format csv, --plot, --summary or --export");
        return CLI_EXIT_USAGE;
    }
    if (chosen.tuned != NULL && (chosen.batch != NULL || chosen.window > 0)) {
        cli_error("--tuned applies to one text in one window: not with --batch or --window");
        return CLI_EXIT_USAGE;
    }
    bool follows = chosen.track.count > 0 || chosen.contributions || chosen.export.path != NULL ||
                   chosen.export.taps || chosen.export.has_logprob_rows;
    if (follows && (chosen.batch != NULL || chosen.window > 0)) {
        cli_error("--track, --contributions and --export apply to one text in one window: not with --batch or --window");
        return CLI_EXIT_USAGE;
    }
    if (chosen.contributions && (chosen.tuned != NULL || chosen.certify)) {
        cli_error("--contributions reads the logit lens's own rows: not with --tuned or --certify");
        return CLI_EXIT_USAGE;
    }
    if (chosen.batch != NULL) return run_batch(&chosen, argc - optind);
    if (chosen.strict) {
        cli_error("--strict applies to --batch only");
        return CLI_EXIT_USAGE;
    }
    status = plot_outputs_check(chosen.plot, chosen.summary);
    if (status != 0) return status;

    cli_input input;
    status = cli_input_load(chosen.model, &chosen.text, argc - optind, argv + optind, CLI_INPUT_MODEL, &input);
    if (status != 0) return status;
    loupe_model_info info;
    loupe_model_get_info(input.model, &info);
    loupe_tuned_lens *tuned = NULL;
    status = cli_tuned_open(chosen.tuned, chosen.subblocks, input.model, &tuned);
    if (status != 0) {
        cli_input_free(&input);
        return status;
    }
    if (!cli_track_resolve(input.tokenizer, info.n_vocab, &chosen.track)) {
        loupe_tuned_lens_close(tuned);
        cli_input_free(&input);
        return CLI_EXIT_USAGE;
    }
    int n_rows = loupe_lens_row_count_with(info.n_layer, chosen.subblocks, chosen.contributions);
    lens_view view = {.tokenizer = input.tokenizer, .info = &info, .topk = (int)chosen.topk,
                      .subblocks = chosen.subblocks, .contributions = chosen.contributions,
                      .tuned_directory = chosen.tuned};
    if (!lens_slice_resolve("--layers", &chosen.rows, n_rows, &view.rows) ||
        !lens_slice_resolve("--positions", &chosen.positions, (int)input.n_ids, &view.positions) ||
        (chosen.export.has_logprob_rows &&
         !lens_slice_resolve("--export-logprobs", &chosen.export.logprob_slice, n_rows, &chosen.export.logprob_rows))) {
        loupe_tuned_lens_close(tuned);
        cli_input_free(&input);
        return CLI_EXIT_USAGE;
    }
    status = lens_export_check(&chosen.export, view.positions.end - view.positions.first, info.n_vocab);
    if (status != CLI_EXIT_OK) {
        loupe_tuned_lens_close(tuned);
        cli_input_free(&input);
        return status;
    }

    loupe_lens_params params = loupe_lens_default_params();
    params.topk = (int)chosen.topk;
    params.subblocks = chosen.subblocks;
    params.precision = (loupe_precision)chosen.precision;
    params.tuned = tuned;
    params.contributions = chosen.contributions;
    params.keep_taps = chosen.export.taps || chosen.export.has_logprob_rows;
    params.track_ids = chosen.track.ids;
    params.n_track = chosen.track.count;
    loupe_lens_result *result = NULL;
    loupe_error error;
    loupe_status run = chosen.window > 0
                           ? loupe_lens_run_windowed(input.model, input.ids, (int)input.n_ids, (int)chosen.window,
                                                     chosen.stride > 0 ? (int)chosen.stride : (int)chosen.window / 2,
                                                     &params, &result, &error)
                           : loupe_lens_run(input.model, input.ids, (int)input.n_ids, &params, &result, &error);
    if (run != LOUPE_OK) {
        status = cli_fail(&error);
        loupe_tuned_lens_close(tuned);
        cli_input_free(&input);
        return status;
    }
    view.result = result;
    certified_lens *certified = NULL;
    if (chosen.certify) {
        status = lens_certified_run(input.model, input.ids, (int)input.n_ids, chosen.subblocks, chosen.weight_radius,
                                    &certified);
        if (status != CLI_EXIT_OK) {
            loupe_lens_free(result);
            cli_input_free(&input);
            return status;
        }
        view.certified = certified;
    }
    bool print = chosen.has_format || (chosen.plot == NULL && chosen.summary == NULL && chosen.export.path == NULL);
    int print_status = CLI_EXIT_OK;
    if (chosen.compare_lenses) {
        print_status = compare_lenses(&input, &params, &view, chosen.format == LENS_FORMAT_JSON);
    } else if (!print) {
        /* pictures only */
    } else if (chosen.format == LENS_FORMAT_JSON) {
        print_status = lens_json_print(stdout, &view);
    } else if (chosen.format == LENS_FORMAT_CSV) {
        lens_csv_print(stdout, &view, chosen.has_topk ? (int)chosen.topk : 1);
    } else {
        lens_table_style style = {
            .metric = chosen.metric,
            .colour = lens_colour_mode_for(chosen.colour),
            .top_down = chosen.top_down,
            .values = chosen.values,
            .width = chosen.has_width ? (int)chosen.width : lens_text_terminal_width(),
        };
        lens_table_print(stdout, &view, &style);
        lens_legend_print(stdout, &view, &style);
    }
    status = print_status;
    if (status == CLI_EXIT_OK && chosen.export.path != NULL) status = lens_export_write(&view, input.model, &chosen.export);
    if (status == CLI_EXIT_OK && (chosen.plot != NULL || chosen.summary != NULL)) {
        char model_name[256], titled[300];
        plot_model_name(info.directory, model_name, sizeof model_name);
        plot_style plot = {.metric = chosen.metric, .top_down = chosen.top_down, .dpi = chosen.dpi,
                           .model_name = cli_lens_titled(model_name, tuned != NULL, titled, sizeof titled),
                           .columns = (int)chosen.columns, .values = chosen.values};
        status = plot_outputs_write(&view, &plot, chosen.plot, chosen.summary);
    }
    certified_lens_free(certified);
    loupe_lens_free(result);
    loupe_tuned_lens_close(tuned);
    cli_input_free(&input);
    return status;
}
