/*
 * cmd_tokenize.c - `loupe tokenize`: a text as the model's tokens.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static const char usage[] =
    "usage: loupe tokenize [--model DIR] [--json] [--file PATH | --ids LIST] [TEXT...]\n"
    "\n"
    "Splits a text into the model's tokens. Text output: one token per line,\n"
    "its position, id and readable form (a leading space shown as \xe2\x90\xa3, newline and tab\n"
    "escaped, bytes that are not whole UTF-8 characters as <0xNN>).\n"
    "Special tokens show by name (<|endoftext|>).\n"
    "JSON output: {\"ids\": [...], \"tokens\": [\"...\", ...]} with each token's text.\n"
    "\n"
    "  --model DIR   a Hugging Face model folder (default: the embedded gpt2-demo)\n"
    "  --file PATH   read the text from a file (default: the arguments, else stdin);\n"
    "                one trailing newline (\\n or \\r\\n) of a file or stdin is dropped\n"
    "  --keep-newline\n"
    "                keep that newline\n"
    "  --no-special  read special tokens in the text (<|endoftext|>) as plain text,\n"
    "                and add none around it (no BOS of a tokenizer.json)\n"
    "  --ids LIST    show token ids instead of a text, e.g. --ids 464,2068,7586\n"
    "  --bos         put the model's BOS token (<|endoftext|>) first\n"
    "  --json        print JSON\n"
    "  --help        show this help\n";

int cmd_tokenize(int argc, char **argv) {
    static const struct option options[] = {
        {"model", required_argument, NULL, 'm'},
        {"file", required_argument, NULL, 'f'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        CLI_TEXT_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    const char *model_option = NULL;
    cli_text_options text = {0};
    int json = 0, option;
    optind = 1;
    while ((option = getopt_long(argc, argv, "m:f:jh", options, NULL)) != -1) {
        switch (option) {
        case 'm': model_option = optarg; break;
        case 'f': text.file = optarg; break;
        case 'j': json = 1; break;
        case 'h': fputs(usage, stdout); return CLI_EXIT_OK;
        default:
            if (cli_text_option(option, optarg, &text)) break;
            fputs(usage, stderr);
            return CLI_EXIT_USAGE;
        }
    }
    cli_input input;
    int status = cli_input_load(model_option, &text, argc - optind, argv + optind, CLI_INPUT_ALLOW_EMPTY, &input);
    if (status != 0) return status;
    const loupe_tokenizer *tokenizer = input.tokenizer;
    const int32_t *ids = input.ids;
    size_t count = input.n_ids;
    if (json) {
        fputs("{\"ids\": [", stdout);
        for (size_t i = 0; i < count; i++) printf("%s%d", i ? ", " : "", ids[i]);
        fputs("], \"tokens\": [", stdout);
        for (size_t i = 0; i < count; i++) {
            size_t n = 0;
            const char *bytes = loupe_tokenizer_token_bytes(tokenizer, ids[i], &n);
            if (i) fputs(", ", stdout);
            cli_json_string(stdout, bytes, n);
        }
        fputs("]}\n", stdout);
    } else {
        char rendered[256];
        for (size_t i = 0; i < count; i++) {
            loupe_tokenizer_render(tokenizer, ids[i], rendered, sizeof rendered);
            printf("%6zu %7d  %s\n", i, ids[i], rendered);
        }
    }
    cli_input_free(&input);
    return status;
}
