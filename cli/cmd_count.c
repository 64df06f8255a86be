/*
 * cmd_count.c - `loupe count`: how often each token of the model's
 * tokenizer occurs in a corpus, as a TSV that `loupe corpus --counts` reads.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "corpus_output.h"

static const char usage[] =
    "usage: loupe count [--model DIR] [options] FILE... > counts.tsv\n"
    "\n"
    "Token frequencies of a corpus with the model's tokenizer, each document\n"
    "encoded on its own (as loupe corpus does). Writes TSV to standard output:\n"
    "a '#' comment line with the totals, the header 'id<TAB>token<TAB>count',\n"
    "then one line per token that occurs, most frequent first (ties by id). The\n"
    "token column is its readable rendering (a leading space as U+2423, \\n, \\t,\n"
    "<0xNN>); readers use only the id and the count. FILE '-' is standard input.\n"
    "\n"
    "  --model DIR        a Hugging Face model folder (default: the embedded gpt2-demo)\n" CORPUS_SOURCE_HELP
    "  --help             show this help\n";

typedef struct count_state {
    loupe_tokenizer *tokenizer;
    int64_t *counts; /* (V) */
    int n_vocab;
    int64_t tokens, documents;
    int status;
} count_state;

/* Encodes one document and adds its ids to the counts; false on error. */
static bool count_document(void *user, const loupe_corpus_document *document, const char *path) {
    count_state *state = user;
    int32_t *ids = NULL;
    size_t n = 0;
    loupe_error error;
    if (loupe_tokenizer_encode(state->tokenizer, document->text, document->length, &ids, &n, &error) != LOUPE_OK) {
        cli_error("%s:%lld: %s", path, (long long)document->line, error.message);
        state->status = CLI_EXIT_FAILURE;
        return false;
    }
    for (size_t i = 0; i < n; i++)
        if (ids[i] >= 0 && ids[i] < state->n_vocab) state->counts[ids[i]]++;
    state->tokens += (int64_t)n;
    state->documents++;
    loupe_free(ids);
    return true;
}

/* Sorting ids by count, most frequent first, then by id: qsort has no
 * context argument, so the counts being sorted by are set here for the call. */
static const int64_t *sort_counts;

static int compare_by_count(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (sort_counts[x] != sort_counts[y]) return sort_counts[x] < sort_counts[y] ? 1 : -1;
    return (x > y) - (x < y);
}

/* The TSV: comment, header, one line per token that occurs, most frequent first. */
static void write_counts(FILE *out, const count_state *state) {
    fprintf(out, "# loupe count: %lld tokens in %lld documents\n", (long long)state->tokens,
            (long long)state->documents);
    fputs("id\ttoken\tcount\n", out);
    int32_t *order = malloc((size_t)state->n_vocab * sizeof *order);
    int n = 0;
    for (int v = 0; v < state->n_vocab; v++)
        if (state->counts[v] > 0) order[n++] = v;
    sort_counts = state->counts;
    qsort(order, (size_t)n, sizeof *order, compare_by_count);
    char token[256];
    for (int i = 0; i < n; i++) {
        loupe_tokenizer_render(state->tokenizer, order[i], token, sizeof token);
        fprintf(out, "%d\t%s\t%lld\n", order[i], token, (long long)state->counts[order[i]]);
    }
    free(order);
}

int cmd_count(int argc, char **argv) {
    static const struct option options[] = {
        {"model", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        CORPUS_SOURCE_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    const char *model_option = NULL;
    corpus_source source = {.reader = loupe_corpus_reader_default_params()};
    int option;
    optind = 1;
    while ((option = getopt_long(argc, argv, "m:h", options, NULL)) != -1) {
        if (corpus_source_option(&source, option, optarg)) continue;
        switch (option) {
        case 'm': model_option = optarg; break;
        case 'h': fputs(usage, stdout); return CLI_EXIT_OK;
        default: fputs(usage, stderr); return CLI_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        cli_error("count: no corpus file given (use '-' for standard input)");
        return CLI_EXIT_USAGE;
    }
    source.paths = argv + optind;
    source.n_paths = argc - optind;

    char *directory = cli_model_directory(model_option);
    if (directory == NULL) return CLI_EXIT_FAILURE;
    count_state state = {.status = 0};
    loupe_error error;
    if (loupe_tokenizer_open(directory, &state.tokenizer, &error) != LOUPE_OK) {
        free(directory);
        return cli_fail(&error);
    }
    state.n_vocab = loupe_tokenizer_vocab_size(state.tokenizer);
    state.counts = calloc((size_t)state.n_vocab, sizeof *state.counts);
    int64_t skipped = 0;
    bool stopped = false;
    int status = state.counts ? corpus_source_read(&source, count_document, &state, &skipped, &stopped, NULL)
                              : CLI_EXIT_FAILURE;
    if (status == 0 && state.status != 0) status = state.status;
    if (status == 0) write_counts(stdout, &state); /* main reports a failed write */
    free(state.counts);
    loupe_tokenizer_close(state.tokenizer);
    free(directory);
    return status;
}
