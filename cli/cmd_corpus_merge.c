/*
 * cmd_corpus_merge.c - `loupe corpus-merge STATE...`: the report of a corpus
 * run from the states its shards saved (`loupe corpus --shard I/N
 * --save-state FILE`), written by the same table, JSON and plot writers as
 * `loupe corpus` (docs/SCALE.md). States of different runs, or holding the
 * same shard, are refused naming the two files.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "corpus_identity.h"
#include "corpus_output.h"
#include "corpus_state.h"
#include "plot.h"

static const char usage[] =
    "usage: loupe corpus-merge [options] STATE...\n"
    "\n"
    "One corpus report from the states that `loupe corpus --save-state` wrote\n"
    "(typically one per --shard I/N): the same report one process gives over the\n"
    "whole corpus (docs/SCALE.md). The states must come from the same model,\n"
    "options and inputs and hold different shards; shards left out make a\n"
    "report of the others only (with a warning).\n"
    "\n"
    "  --format F         table (default), json (schema loupe.corpus/1) or csv, as\n"
    "                     loupe corpus writes them\n"
    "  --plot FILE        draw the per-layer curves to FILE (.png, .svg or .html),\n"
    "                     as loupe corpus --plot does\n"
    "  --save-state FILE  also write the merged state (to merge further)\n"
    "  --help             show this help\n";

typedef struct merge_options {
    const char *plot, *save_state;
    corpus_format format;
    char **paths;
    int n_paths;
} merge_options;

/* Parses argv; returns -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, merge_options *chosen) {
    static const struct option options[] = {
        {"format", required_argument, NULL, 'F'}, {"plot", required_argument, NULL, 'p'},
        {"save-state", required_argument, NULL, 'W'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(chosen, 0, sizeof *chosen);
    bool ok = true;
    int option;
    optind = 1;
    while (ok && (option = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (option) {
        case 'F': ok = corpus_report_parse_format(optarg, &chosen->format); break;
        case 'p': ok = plot_check_path("--plot", optarg); chosen->plot = optarg; break;
        case 'W': chosen->save_state = optarg; break;
        case 'h': fputs(usage, stdout); return CLI_EXIT_OK;
        default: fputs(usage, stderr); return CLI_EXIT_USAGE;
        }
    }
    if (!ok) return CLI_EXIT_USAGE;
    if (optind >= argc) {
        cli_error("corpus-merge: no state file given");
        return CLI_EXIT_USAGE;
    }
    chosen->paths = argv + optind;
    chosen->n_paths = argc - optind;
    return -1;
}

/* Reads every state and folds them into *merged, in the order given.
 * Returns 0 or prints the error and returns CLI_EXIT_FAILURE. */
static int merge_states(const merge_options *chosen, corpus_state *merged) {
    loupe_error error;
    if (corpus_state_read(chosen->paths[0], NULL, NULL, merged, &error) != LOUPE_OK) return cli_fail(&error);
    for (int i = 1; i < chosen->n_paths; i++) {
        corpus_state next;
        loupe_status status = corpus_state_read(chosen->paths[i], NULL, NULL, &next, &error);
        if (status == LOUPE_OK) status = corpus_state_merge(merged, chosen->paths[0], &next, chosen->paths[i], &error);
        corpus_state_free(&next);
        if (status != LOUPE_OK) return cli_fail(&error);
    }
    return 0;
}

int cmd_corpus_merge(int argc, char **argv) {
    merge_options chosen;
    int status = parse_options(argc, argv, &chosen);
    if (status >= 0) return status;
    if (chosen.plot != NULL && !plot_output_check(chosen.plot)) return CLI_EXIT_FAILURE;
    corpus_state merged = {0};
    corpus_report report = {0};
    corpus_identity_storage storage = {0};
    status = merge_states(&chosen, &merged);
    if (status == 0) status = corpus_identity_report(&merged, chosen.paths[0], &report, &storage);
    if (status == 0 && chosen.plot != NULL && report.counts_path != NULL) {
        char rarity[4096];
        corpus_plot_rarity_path(chosen.plot, rarity, sizeof rarity);
        if (!plot_output_check(rarity)) status = CLI_EXIT_FAILURE;
    }
    if (status == 0 && chosen.save_state != NULL) {
        loupe_error error;
        if (corpus_state_write(chosen.save_state, &merged, &error) != LOUPE_OK) status = cli_fail(&error);
    }
    if (status == 0) {
        if (merged.n_covered < merged.n_shards)
            fprintf(stderr, "loupe: warning: the states hold %u of %u shards: the report covers those only\n",
                    merged.n_covered, merged.n_shards);
        report.stats = merged.stats;
        corpus_report_print(stdout, &report, chosen.format);
        if (chosen.plot != NULL) status = corpus_plot_write(&report, chosen.plot);
    }
    corpus_identity_storage_free(&storage, &report);
    corpus_state_free(&merged);
    return status;
}
