/*
 * cmd_corpus.c - `loupe corpus`: the lens over whole corpora, aggregated per
 * layer in memory that does not grow with the corpus. Reads the documents
 * (corpus_input.c), cuts each into windows (loupe_corpus_window_next), runs
 * the lens on each window and adds its scored positions to a
 * loupe_corpus_stats; then prints a table or JSON and draws the plots.
 * Ctrl-C stops between windows and still reports the aggregate so far,
 * marked partial.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "corpus_certify.h"
#include "corpus_output.h"
#include "plot.h"

static const char usage[] =
    "usage: loupe corpus [--model DIR] [options] FILE...\n"
    "\n"
    "The logit lens over whole corpora: per layer, the mean, median and 10 %/90 %\n"
    "quantiles of the target and input ranks and probabilities, the four KLs and\n"
    "the entropy; how often each layer's top-1 is the final top-1 and the true\n"
    "next token; and the decision layer (the first layer from which the final\n"
    "top-1 stays top-1). With --counts, the input token's statistics by its corpus\n"
    "frequency and Spearman's rho between frequency and input rank per layer.\n"
    "docs/CORPUS.md describes every number. FILE '-' is standard input.\n"
    "\n"
    "  --model DIR        a Hugging Face model folder (default: the embedded gpt2-demo)\n" CORPUS_SOURCE_HELP
    "  --stride N         tokens between window starts (default: the context / 2);\n"
    "                     documents longer than the model's context are cut into\n"
    "                     windows; each position is scored once, in the first window\n"
    "                     holding it and its next token (the most left context)\n"
    "  --min-context N    skip positions with fewer than N tokens before them in\n"
    "                     their window (default 0; at most context - stride - 1)\n"
    "  --max-tokens N     stop after N scored positions\n"
    "  --counts FILE      token frequencies from loupe count: rarity statistics\n"
    "  --format F         table (default) or json (schema loupe.corpus/1)\n"
    "  --plot FILE        draw per-layer curves with quantile bands to FILE (.png,\n"
    "                     .svg or .html); with --counts also FILE-rarity.EXT\n"
    "  --subblocks        add a row after each block's attention (hN.attn)\n"
    "  --track TOKEN      also summarise a token per layer: its rank, probability and\n"
    "                     how often it is the layer's top-1; a token's text (one\n"
    "                     token) or its id; up to 16\n"
    "  --tuned LENSDIR    the tuned lens of LENSDIR instead of the logit lens\n"
    "                     (docs/TUNED_LENS.md)\n"
    "  --exact-limit N    values per statistic kept exactly before the quantile\n"
    "                     sketch takes over (default 10000)\n"
    "  --sketch-error X   relative error bound of sketched quantiles (default 0.01)\n"
    "  --reservoir N      positions sampled for Spearman's rho (default 20000)\n"
    "  --seed N           seed of that sample (default 1)\n"
    "  --certify          also run the certified lens (interval arithmetic) on every\n"
    "                     window: per row the share of top1_certain cells and the\n"
    "                     relative radius, per layer each kernel's widening\n"
    "                     (docs/CORPUS.md)\n"
    "  --weight-radius R  with --certify: widen every weight to w [1-R, 1+R]; bf16\n"
    "                     or f16 for those formats' unit roundoff (default 0)\n"
    "  --progress WHEN    auto (default: when stderr is a terminal), always, never\n"
    "  --help             show this help\n";

typedef struct corpus_options {
    const char *model, *counts, *plot, *progress, *tuned;
    long stride, min_context, max_tokens, exact_limit, reservoir, seed;
    double sketch_error;
    bool has_stride, json, subblocks, certify, has_weight_radius;
    double weight_radius;
    corpus_source source;
    cli_track_list track;
} corpus_options;

/* Parses argv; returns -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, corpus_options *chosen) {
    static const struct option options[] = {
        {"model", required_argument, NULL, 'm'},     {"stride", required_argument, NULL, 's'},
        {"min-context", required_argument, NULL, 'c'}, {"max-tokens", required_argument, NULL, 'n'},
        {"counts", required_argument, NULL, 'C'},    {"format", required_argument, NULL, 'F'},
        {"plot", required_argument, NULL, 'p'},      {"subblocks", no_argument, NULL, 'S'},
        {"exact-limit", required_argument, NULL, 'x'}, {"sketch-error", required_argument, NULL, 'e'},
        {"reservoir", required_argument, NULL, 'r'}, {"seed", required_argument, NULL, 'd'},
        {"progress", required_argument, NULL, 'P'},  {"help", no_argument, NULL, 'h'},
        {"track", required_argument, NULL, 't'},
        {"tuned", required_argument, NULL, 'U'},     {"certify", no_argument, NULL, 'Z'},
        {"weight-radius", required_argument, NULL, 'W'}, CORPUS_SOURCE_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    loupe_corpus_stats_params defaults = loupe_corpus_stats_default_params();
    memset(chosen, 0, sizeof *chosen);
    chosen->source.reader = loupe_corpus_reader_default_params();
    chosen->progress = "auto";
    chosen->exact_limit = defaults.exact_limit;
    chosen->sketch_error = defaults.sketch_error;
    chosen->reservoir = defaults.reservoir_size;
    chosen->seed = (long)defaults.seed;
    bool ok = true;
    int option;
    optind = 1;
    while (ok && (option = getopt_long(argc, argv, "m:h", options, NULL)) != -1) {
        if (corpus_source_option(&chosen->source, option, optarg)) continue;
        switch (option) {
        case 'm': chosen->model = optarg; break;
        case 's':
            ok = cli_parse_int("--stride", optarg, 1, 1 << 24, &chosen->stride);
            chosen->has_stride = true;
            break;
        case 'c': ok = cli_parse_int("--min-context", optarg, 0, 1 << 24, &chosen->min_context); break;
        case 'n': ok = cli_parse_int("--max-tokens", optarg, 1, LONG_MAX, &chosen->max_tokens); break;
        case 'C': chosen->counts = optarg; break;
        case 'F':
            if (strcmp(optarg, "json") == 0) chosen->json = true;
            else if (strcmp(optarg, "table") != 0) {
                cli_error("--format: expected one of table, json, got '%s'", optarg);
                ok = false;
            }
            break;
        case 'p': ok = plot_check_path("--plot", optarg); chosen->plot = optarg; break;
        case 'S': chosen->subblocks = true; break;
        case 'U': chosen->tuned = optarg; break;
        case 'Z': chosen->certify = true; break;
        case 'W':
            ok = lens_certified_weight_radius(optarg, &chosen->weight_radius);
            chosen->has_weight_radius = true;
            break;
        case 'x': ok = cli_parse_int("--exact-limit", optarg, 0, 1 << 26, &chosen->exact_limit); break;
        case 'e': ok = cli_parse_float("--sketch-error", optarg, 1e-4, 0.5, &chosen->sketch_error); break;
        case 'r': ok = cli_parse_int("--reservoir", optarg, 4, 1 << 24, &chosen->reservoir); break;
        case 'd': ok = cli_parse_int("--seed", optarg, 0, LONG_MAX, &chosen->seed); break;
        case 'P':
            if (strcmp(optarg, "auto") && strcmp(optarg, "always") && strcmp(optarg, "never")) {
                cli_error("--progress: expected one of auto, always, never, got '%s'", optarg);
                ok = false;
            }
            chosen->progress = optarg;
            break;
        case 't': ok = cli_track_add(optarg, &chosen->track); break;
        case 'h': fputs(usage, stdout); return CLI_EXIT_OK;
        default: fputs(usage, stderr); return CLI_EXIT_USAGE;
        }
    }
    if (!ok || !corpus_certify_options_check(chosen->certify, chosen->has_weight_radius, chosen->tuned != NULL))
        return CLI_EXIT_USAGE;
    if (optind >= argc) {
        cli_error("corpus: no corpus file given (use '-' for standard input)");
        return CLI_EXIT_USAGE;
    }
    chosen->source.paths = argv + optind;
    chosen->source.n_paths = argc - optind;
    return -1;
}

/* ------------------------------------------------------------------------
 * Ctrl-C
 * ---------------------------------------------------------------------- */

static volatile sig_atomic_t interrupted = 0;

/* SIGINT: only sets the flag (async-signal-safe). */
static void on_interrupt(int signal_number) {
    (void)signal_number;
    interrupted = 1;
}

/* The first Ctrl-C sets the flag (checked between windows); the handler is
 * reset, so a second one ends the process at once. */
static void catch_interrupt(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_interrupt;
    action.sa_flags = SA_RESETHAND;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
}

/* ------------------------------------------------------------------------
 * The run
 * ---------------------------------------------------------------------- */

typedef struct corpus_run {
    loupe_model *model;
    loupe_tokenizer *tokenizer;
    corpus_report *report;
    loupe_lens_params lens;
    corpus_progress progress;
    corpus_certify *certify; /* --certify, or NULL */
    int64_t bytes_done;     /* bytes read, the document being scored included */
    int64_t bytes_finished; /* bytes of the documents scored to the end */
    int status;
} corpus_run;

/* Runs the lens on every window of one document and adds the scored
 * positions; false to stop (limit reached, Ctrl-C, or an error). */
static bool run_document(void *user, const loupe_corpus_document *document, const char *path) {
    corpus_run *run = user;
    corpus_report *report = run->report;
    int32_t *ids = NULL;
    size_t n = 0;
    loupe_error error;
    if (loupe_tokenizer_encode(run->tokenizer, document->text, document->length, &ids, &n, &error) != LOUPE_OK) {
        cli_error("%s:%lld: %s", path, (long long)document->line, error.message);
        run->status = CLI_EXIT_FAILURE;
        return false;
    }
    if (n > (size_t)1 << 30) {
        cli_error("%s:%lld: a document of %zu tokens is too long", path, (long long)document->line, n);
        loupe_free(ids);
        run->status = CLI_EXIT_FAILURE;
        return false;
    }
    report->documents++;
    loupe_corpus_window window = {0};
    bool go_on = true;
    while (go_on && loupe_corpus_window_next((int)n, &report->windows, &window)) {
        if (interrupted) {
            report->partial = true;
            go_on = false;
            break;
        }
        int begin = window.score_begin, end = window.score_end;
        if (report->max_tokens > 0 && report->positions + (end - begin) >= report->max_tokens) {
            end = begin + (int)(report->max_tokens - report->positions);
            go_on = false;
        }
        if (end <= begin) continue;
        /* the model is causal: tokens after the last scored target change nothing */
        loupe_lens_result *lens = NULL;
        if (loupe_lens_run(run->model, ids + window.start, end + 1 - window.start, &run->lens, &lens, &error) !=
                LOUPE_OK ||
            loupe_corpus_stats_add(report->stats, lens, begin - window.start, end - window.start, &error) !=
                LOUPE_OK ||
            (run->certify != NULL &&
             corpus_certify_add(run->certify, run->model, ids + window.start, end + 1 - window.start,
                                report->subblocks, begin - window.start, end - window.start, &error) != LOUPE_OK)) {
            cli_error("%s:%lld: %s", path, (long long)document->line, error.message);
            run->status = CLI_EXIT_FAILURE;
            report->partial = true;
            go_on = false;
        } else {
            report->n_windows++;
            report->positions += end - begin;
        }
        loupe_lens_free(lens);
        double document_share = (double)end / (double)n; /* of the document's tokens, scored or passed */
        corpus_progress_update(&run->progress, report->documents, report->positions,
                               (double)run->bytes_finished +
                                   document_share * (double)(run->bytes_done - run->bytes_finished),
                               false);
    }
    run->bytes_finished = run->bytes_done;
    loupe_free(ids);
    if (interrupted) report->partial = true;
    return go_on && !interrupted;
}

/* Row names as loupe_lens_row_name gives them: input, [hN.attn,] hN. */
static void make_row_names(corpus_report *report, int n_layer) {
    for (int row = 0; row < report->n_rows; row++)
        loupe_lens_row_label(n_layer, report->subblocks, row, report->row_names[row], sizeof report->row_names[0]);
}

/* Opens the model, tokenizer and counts and creates the aggregate. */
static int prepare(corpus_options *chosen, corpus_run *run, corpus_report *report, loupe_model_info *info,
                   int64_t **counts, char **directory) {
    loupe_error error;
    *directory = cli_model_directory(chosen->model);
    if (*directory == NULL) return CLI_EXIT_FAILURE;
    loupe_model *model = NULL;
    if (loupe_model_open(*directory, &model, &error) != LOUPE_OK) return cli_fail(&error);
    run->model = model;
    if (loupe_tokenizer_open(*directory, &run->tokenizer, &error) != LOUPE_OK) return cli_fail(&error);
    int tuned_status = cli_tuned_open(chosen->tuned, chosen->subblocks, model, &report->tuned);
    if (tuned_status != 0) return tuned_status;
    report->tuned_directory = chosen->tuned;
    loupe_model_get_info(model, info);
    report->info = info;
    if (!cli_track_resolve(run->tokenizer, info->n_vocab, &chosen->track)) return CLI_EXIT_USAGE;
    report->tokenizer = run->tokenizer;
    report->track_ids = chosen->track.ids;
    report->n_track = chosen->track.count;
    report->windows = (loupe_corpus_window_params){
        .context = info->n_ctx,
        .stride = chosen->has_stride ? (int)chosen->stride : info->n_ctx / 2,
        .min_context = (int)chosen->min_context,
    };
    if (loupe_corpus_window_check(&report->windows, &error) != LOUPE_OK) {
        cli_fail(&error);
        return CLI_EXIT_USAGE;
    }
    report->stats_params = loupe_corpus_stats_default_params();
    report->stats_params.exact_limit = (int)chosen->exact_limit;
    report->stats_params.sketch_error = chosen->sketch_error;
    report->stats_params.reservoir_size = (int)chosen->reservoir;
    report->stats_params.seed = (uint64_t)chosen->seed;
    report->stats_params.track_ids = chosen->track.ids;
    report->stats_params.n_track = chosen->track.count;
    if (chosen->counts != NULL) {
        *counts = malloc((size_t)info->n_vocab * sizeof **counts);
        if (*counts == NULL) {
            cli_error("out of memory");
            return CLI_EXIT_FAILURE;
        }
        if (loupe_corpus_counts_load(chosen->counts, info->n_vocab, *counts, &error) != LOUPE_OK)
            return cli_fail(&error);
        report->stats_params.token_counts = *counts;
        report->counts_path = chosen->counts;
    }
    report->subblocks = chosen->subblocks;
    report->n_rows = loupe_lens_row_count(info->n_layer, chosen->subblocks);
    report->row_names = calloc((size_t)report->n_rows, sizeof *report->row_names);
    if (report->row_names == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_FAILURE;
    }
    make_row_names(report, info->n_layer);
    if (loupe_corpus_stats_create(report->n_rows, info->n_vocab, &report->stats_params, &report->stats, &error) !=
        LOUPE_OK)
        return cli_fail(&error);
    report->stats_params.token_counts = NULL; /* copied by the aggregate; freed below */
    run->lens = loupe_lens_default_params();
    run->lens.topk = 1;
    run->lens.subblocks = chosen->subblocks;
    run->lens.track_ids = chosen->track.ids;
    run->lens.n_track = chosen->track.count;
    run->lens.tuned = report->tuned;
    if (chosen->certify) {
        run->certify = corpus_certify_create(report->n_rows, info->n_layer, chosen->weight_radius);
        if (run->certify == NULL) {
            cli_error("out of memory");
            return CLI_EXIT_FAILURE;
        }
    }
    return 0;
}

int cmd_corpus(int argc, char **argv) {
    corpus_options chosen;
    int status = parse_options(argc, argv, &chosen);
    if (status >= 0) return status;

    if (chosen.plot != NULL) {
        char rarity[4096];
        corpus_plot_rarity_path(chosen.plot, rarity, sizeof rarity);
        if (!plot_output_check(chosen.plot) || (chosen.counts != NULL && !plot_output_check(rarity)))
            return CLI_EXIT_FAILURE;
    }

    corpus_report report = {.source = &chosen.source, .max_tokens = chosen.max_tokens};
    corpus_run run = {.report = &report};
    loupe_model_info info;
    int64_t *counts = NULL;
    char *directory = NULL;
    status = prepare(&chosen, &run, &report, &info, &counts, &directory);
    if (status == 0) {
        catch_interrupt();
        corpus_progress_start(&run.progress, chosen.progress, corpus_source_total_bytes(&chosen.source),
                              chosen.max_tokens);
        bool stopped = false;
        status = corpus_source_read(&chosen.source, run_document, &run, &report.skipped_lines, &stopped,
                                    &run.bytes_done);
        if (run.status != 0) status = run.status;
        corpus_progress_update(&run.progress, report.documents, report.positions, (double)run.bytes_done, true);
        corpus_progress_finish(&run.progress);
        signal(SIGINT, SIG_DFL);
        report.seconds = corpus_progress_now() - run.progress.started;
        if (status != 0) report.partial = true;
        if (report.partial && interrupted)
            cli_error("interrupted: the statistics below cover the %lld positions scored so far (partial)",
                      (long long)report.positions);
        /* the aggregate so far is written even after a failure or Ctrl-C, marked partial */
        corpus_certify_print(stdout, run.certify, &report, chosen.json);
        if (chosen.plot != NULL) {
            int plot_status = corpus_plot_write(&report, chosen.plot);
            if (status == 0) status = plot_status;
        }
        if (status == 0 && interrupted) status = 130; /* the shell's convention for SIGINT */
    }
    loupe_corpus_stats_free(report.stats);
    corpus_certify_free(run.certify);
    free(report.row_names);
    loupe_tuned_lens_close(report.tuned);
    free(counts);
    loupe_tokenizer_close(run.tokenizer);
    loupe_model_close(run.model);
    free(directory);
    return status;
}
