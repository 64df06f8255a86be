/*
 * cmd_info.c - `loupe info`: what a model is.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: loupe info [--model DIR] [--json]\n"
    "\n"
    "Describes a model: architecture, layers, width, heads, vocabulary, context,\n"
    "weight dtype and parameter count.\n"
    "\n"
    "  --model DIR   a Hugging Face model folder (default: the embedded gpt2-demo)\n"
    "  --json        print one JSON object instead of text\n"
    "  --help        show this help\n";

int cmd_info(int argc, char **argv) {
    static const struct option options[] = {
        {"model", required_argument, NULL, 'm'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *model_option = NULL;
    int json = 0, option;
    optind = 1;
    while ((option = getopt_long(argc, argv, "m:jh", options, NULL)) != -1) {
        switch (option) {
        case 'm': model_option = optarg; break;
        case 'j': json = 1; break;
        case 'h': fputs(usage, stdout); return CLI_EXIT_OK;
        default: fputs(usage, stderr); return CLI_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cli_error("info takes no text (got '%s')", argv[optind]);
        return CLI_EXIT_USAGE;
    }
    char *directory = cli_model_directory(model_option);
    if (directory == NULL) return CLI_EXIT_FAILURE;
    loupe_model *model = NULL;
    loupe_error error;
    if (loupe_model_open(directory, &model, &error) != LOUPE_OK) {
        free(directory);
        return cli_fail(&error);
    }
    loupe_model_info info;
    loupe_model_get_info(model, &info);
    if (json) {
        printf("{\"directory\": ");
        cli_json_string(stdout, info.directory, strlen(info.directory));
        printf(", \"architecture\": ");
        cli_json_string(stdout, info.architecture, strlen(info.architecture));
        printf(", \"model_type\": ");
        cli_json_string(stdout, info.model_type, strlen(info.model_type));
        printf(", \"activation\": ");
        cli_json_string(stdout, info.activation, strlen(info.activation));
        printf(", \"n_layer\": %d, \"n_embd\": %d, \"n_head\": %d, \"n_inner\": %d, \"n_vocab\": %d, "
               "\"n_ctx\": %d, \"dtype\": \"%s\", \"tied_unembedding\": %s, \"n_parameters\": %lld, "
               "\"weight_bytes\": %lld, \"n_kv_head\": %d, \"head_dim\": %d}\n",
               info.n_layer, info.n_embd, info.n_head, info.n_inner, info.n_vocab, info.n_ctx,
               info.dtype, info.tied_unembedding ? "true" : "false", (long long)info.n_parameters,
               (long long)info.weight_bytes, info.n_kv_head, info.head_dim);
    } else {
        printf("model         %s\n", info.directory);
        printf("architecture  %s (%s)\n", info.architecture, info.model_type);
        printf("layers        %d\n", info.n_layer);
        printf("width         %d\n", info.n_embd);
        if (info.n_kv_head == info.n_head)
            printf("heads         %d (head width %d)\n", info.n_head, info.head_dim);
        else
            printf("heads         %d, %d key/value (head width %d)\n", info.n_head, info.n_kv_head, info.head_dim);
        printf("mlp width     %d (%s)\n", info.n_inner, info.activation);
        printf("vocabulary    %d\n", info.n_vocab);
        printf("context       %d tokens\n", info.n_ctx);
        printf("dtype         %s\n", info.dtype);
        printf("unembedding   %s\n", info.tied_unembedding ? "tied to the token embedding" : "separate lm_head");
        printf("parameters    %lld (%.1f M)\n", (long long)info.n_parameters, info.n_parameters / 1e6);
        printf("weight bytes  %lld\n", (long long)info.weight_bytes);
    }
    loupe_model_close(model);
    free(directory);
    return CLI_EXIT_OK;
}
