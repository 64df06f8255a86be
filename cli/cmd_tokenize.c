/*
 * cmd_tokenize.c - `loupe tokenize`: a text as the model's tokens.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static const char usage[] =
    "usage: loupe tokenize [--model DIR] [--json] [--file PATH] [TEXT...]\n"
    "\n"
    "Splits a text into the model's tokens. Text output: one token per line,\n"
    "its position, id and readable form (a leading space shown as \xe2\x90\xa3, newline and tab\n"
    "escaped, bytes that are not whole UTF-8 characters as <0xNN>).\n"
    "JSON output: {\"ids\": [...], \"tokens\": [\"...\", ...]} with each token's text.\n"
    "\n"
    "  --model DIR   a Hugging Face model folder (default: the embedded gpt2-demo)\n"
    "  --file PATH   read the text from a file (default: the arguments, else stdin)\n"
    "  --json        print JSON\n"
    "  --help        show this help\n";

int cmd_tokenize(int argc, char **argv) {
    static const struct option options[] = {
        {"model", required_argument, NULL, 'm'},
        {"file", required_argument, NULL, 'f'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *model_option = NULL, *file_path = NULL;
    int json = 0, option;
    optind = 1;
    while ((option = getopt_long(argc, argv, "m:f:jh", options, NULL)) != -1) {
        switch (option) {
        case 'm': model_option = optarg; break;
        case 'f': file_path = optarg; break;
        case 'j': json = 1; break;
        case 'h': fputs(usage, stdout); return CLI_EXIT_OK;
        default: fputs(usage, stderr); return CLI_EXIT_USAGE;
        }
    }
    size_t length = 0;
    char *text = cli_read_text(argc - optind, argv + optind, file_path, &length);
    if (text == NULL) return CLI_EXIT_FAILURE;
    char *directory = cli_model_directory(model_option);
    if (directory == NULL) {
        free(text);
        return CLI_EXIT_FAILURE;
    }
    loupe_tokenizer *tokenizer = NULL;
    int32_t *ids = NULL;
    size_t count = 0;
    int status = cli_encode(directory, text, length, &tokenizer, &ids, &count);
    if (status == 0 && json) {
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
    } else if (status == 0) {
        char rendered[256];
        for (size_t i = 0; i < count; i++) {
            loupe_tokenizer_render(tokenizer, ids[i], rendered, sizeof rendered);
            printf("%6zu %7d  %s\n", i, ids[i], rendered);
        }
    }
    loupe_free(ids);
    loupe_tokenizer_close(tokenizer);
    free(directory);
    free(text);
    return status;
}
