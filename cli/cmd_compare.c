/*
 * cmd_compare.c - `loupe compare --model A --model B TEXT`: two models'
 * lenses on the same text (loupe_lens_compare), as a table of KL(A || B),
 * as JSON (compare_output.c) and as a heatmap. The text is encoded with A's
 * tokenizer; B's must encode it to the same ids.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "compare_output.h"
#include "plot.h"

static const char usage[] =
    "usage: loupe compare --model A --model B [options] [--file PATH | --ids LIST] [TEXT...]\n"
    "\n"
    "Two models' logit lenses on the same text, for models with the same tokenizer\n"
    "and layers (GELU and ReLU, a base model and its fine-tuning): per row and\n"
    "position, KL(A || B) and KL(B || A) between the two lens distributions, the\n"
    "true next token's probability and rank in each (and their differences, B - A),\n"
    "and both top-1 tokens. The table shows KL(A || B), '*' where the top-1s differ.\n"
    "\n"
    "  --model DIR        twice: model A, then model B\n"
    "  --file PATH, --ids LIST, --keep-newline, --no-special, --bos  as for loupe lens\n"
    "  --subblocks        add a row after each block's attention (hN.attn)\n"
    "  --format F         table or json (default table; JSON: README, Comparing models)\n"
    "  --plot FILE        also draw the heatmap of KL(A || B) to FILE (.png or .svg)\n"
    "  --dpi N            resolution of PNG pictures, 36 to 1200 (default 144)\n"
    "  --help             show this help\n";

typedef struct compare_options {
    const char *models[2];
    int n_models;
    const char *plot;
    cli_text_options text;
    bool subblocks, json, has_format;
    double dpi;
} compare_options;

/* Parses argv; returns -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, compare_options *chosen) {
    static const struct option options[] = {
        {"model", required_argument, NULL, 'm'},  {"file", required_argument, NULL, 'f'},
        {"subblocks", no_argument, NULL, 's'},    {"format", required_argument, NULL, 'F'},
        {"plot", required_argument, NULL, 'p'},   {"dpi", required_argument, NULL, 'D'},
        CLI_TEXT_LONG_OPTIONS,                    {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *chosen = (compare_options){.dpi = PLOT_DEFAULT_DPI};
    int option;
    bool ok = true;
    optind = 1;
    while (ok && (option = getopt_long(argc, argv, "m:f:h", options, NULL)) != -1) {
        switch (option) {
        case 'm':
            if (chosen->n_models == 2) {
                cli_error("compare: --model given more than twice");
                return CLI_EXIT_USAGE;
            }
            chosen->models[chosen->n_models++] = optarg;
            break;
        case 'f': chosen->text.file = optarg; break;
        case 's': chosen->subblocks = true; break;
        case 'F':
            if (strcmp(optarg, "table") != 0 && strcmp(optarg, "json") != 0) {
                cli_error("--format: expected one of table, json, got '%s'", optarg);
                return CLI_EXIT_USAGE;
            }
            chosen->json = strcmp(optarg, "json") == 0;
            chosen->has_format = true;
            break;
        case 'p':
            ok = plot_check_path("--plot", optarg);
            if (ok && strlen(optarg) >= 5 && strcmp(optarg + strlen(optarg) - 5, ".html") == 0) {
                cli_error("compare: --plot draws .png or .svg, not .html");
                ok = false;
            }
            chosen->plot = optarg;
            break;
        case 'D': ok = cli_parse_float("--dpi", optarg, 36.0, 1200.0, &chosen->dpi); break;
        case 'h': fputs(usage, stdout); return CLI_EXIT_OK;
        default:
            if (cli_text_option(option, optarg, &chosen->text)) break;
            fputs(usage, stderr);
            return CLI_EXIT_USAGE;
        }
    }
    if (ok && chosen->n_models != 2) {
        cli_error("compare: give two models, --model A --model B (got %d)", chosen->n_models);
        ok = false;
    }
    return ok ? -1 : CLI_EXIT_USAGE;
}

/* B's tokenizer must encode the text as A's did. Returns 0, or prints
 * the first difference. */
static int check_tokenizers(const cli_input *a, const cli_input *b) {
    if (a->n_ids == b->n_ids && memcmp(a->ids, b->ids, a->n_ids * sizeof *a->ids) == 0) return 0;
    size_t at = 0;
    while (at < a->n_ids && at < b->n_ids && a->ids[at] == b->ids[at]) at++;
    cli_error("compare: the two models' tokenizers encode the text differently, from token %zu on (%zu and %zu "
              "tokens)",
              at, a->n_ids, b->n_ids);
    return CLI_EXIT_FAILURE;
}

int cmd_compare(int argc, char **argv) {
    compare_options chosen;
    int status = parse_options(argc, argv, &chosen);
    if (status >= 0) return status;
    if (chosen.plot != NULL && !plot_output_check(chosen.plot)) return CLI_EXIT_FAILURE;
    cli_input a, b;
    status = cli_input_load(chosen.models[0], &chosen.text, argc - optind, argv + optind, CLI_INPUT_MODEL, &a);
    if (status != 0) return status;
    /* B reads the same text: from the arguments, or A's text and ids */
    cli_text_options text_b = chosen.text;
    text_b.file = NULL;
    text_b.keep_newline = true;
    if (chosen.text.ids == NULL)
        status = cli_input_load(chosen.models[1], &text_b, 1, &a.text, CLI_INPUT_MODEL, &b);
    else
        status = cli_input_load(chosen.models[1], &chosen.text, 0, NULL, CLI_INPUT_MODEL, &b);
    if (status != 0) {
        cli_input_free(&a);
        return status;
    }
    status = check_tokenizers(&a, &b);
    loupe_compare_result *result = NULL;
    loupe_error error;
    if (status == 0 &&
        loupe_lens_compare(a.model, b.model, a.ids, (int)a.n_ids, chosen.subblocks, &result, &error) != LOUPE_OK)
        status = cli_fail(&error);
    if (status == 0) {
        loupe_model_info info_a, info_b;
        loupe_model_get_info(a.model, &info_a);
        loupe_model_get_info(b.model, &info_b);
        compare_view view = {.result = result, .tokenizer = a.tokenizer, .info_a = &info_a, .info_b = &info_b,
                             .subblocks = chosen.subblocks};
        if (chosen.has_format || chosen.plot == NULL) {
            if (chosen.json)
                compare_json_print(stdout, &view);
            else
                compare_table_print(stdout, &view);
        }
        if (chosen.plot != NULL && compare_heatmap_write(&view, chosen.plot, chosen.dpi, &error) != LOUPE_OK)
            status = cli_fail(&error);
    }
    loupe_compare_free(result);
    cli_input_free(&b);
    cli_input_free(&a);
    return status;
}
