/*
 * cmd_next.c - `loupe next`: the most likely next tokens after a text.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "lens_output.h"

static const char usage[] =
    "usage: loupe next [--model DIR] [--topk K] [--json] [--file PATH | --ids LIST] [TEXT...]\n"
    "\n"
    "The K most likely tokens to follow the text, with their probabilities.\n"
    "JSON output: {\"ids\": [...], \"next\": [{\"id\": N, \"text\": \"...\", \"prob\": P}, ...]}.\n"
    "\n"
    "  --model DIR   a Hugging Face model folder (default: the embedded gpt2-demo)\n"
    "  --topk K      how many tokens to show, 1 to 1000 (default 10)\n"
    "  --file PATH   read the text from a file (default: the arguments, else stdin);\n"
    "                one trailing newline (\\n or \\r\\n) of a file or stdin is dropped\n"
    "  --keep-newline\n"
    "                keep that newline\n"
    "  --no-special  read special tokens in the text (<|endoftext|>) as plain text,\n"
    "                and add none around it (no BOS of a tokenizer.json)\n"
    "  --ids LIST    run on token ids instead of a text, e.g. --ids 464,2068,7586\n"
    "  --bos         put the model's BOS token (<|endoftext|>) first\n"
    "  --json        print JSON\n"
    "  --help        show this help\n";

/* ids (k) = the k largest probs (n), largest first, smaller id first on ties. */
static void top_k(const float *probs, int n, int k, int32_t *ids) {
    int kept = 0;
    for (int v = 0; v < n; v++) {
        if (kept == k && !(probs[v] > probs[ids[k - 1]])) continue;
        int at = kept < k ? kept++ : k - 1;
        while (at > 0 && probs[v] > probs[ids[at - 1]]) {
            ids[at] = ids[at - 1];
            at--;
        }
        ids[at] = v;
    }
}

int cmd_next(int argc, char **argv) {
    static const struct option options[] = {
        {"model", required_argument, NULL, 'm'},
        {"topk", required_argument, NULL, 'k'},
        {"file", required_argument, NULL, 'f'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        CLI_TEXT_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    const char *model_option = NULL;
    cli_text_options text = {0};
    long k = 10;
    int json = 0, option;
    optind = 1;
    while ((option = getopt_long(argc, argv, "m:k:f:jh", options, NULL)) != -1) {
        switch (option) {
        case 'm': model_option = optarg; break;
        case 'k':
            if (!cli_parse_int("--topk", optarg, 1, 1000, &k)) return CLI_EXIT_USAGE;
            break;
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
    int status = cli_input_load(model_option, &text, argc - optind, argv + optind, CLI_INPUT_MODEL, &input);
    if (status != 0) return status;
    loupe_model_info info;
    loupe_model_get_info(input.model, &info);
    if (k > info.n_vocab) k = info.n_vocab;
    float *probs = malloc((size_t)info.n_vocab * sizeof *probs);
    int32_t *best = malloc((size_t)k * sizeof *best);
    loupe_error error;
    if (probs == NULL || best == NULL) {
        cli_error("out of memory");
        status = CLI_EXIT_FAILURE;
    } else if (loupe_model_next_probs(input.model, input.ids, (int)input.n_ids, 1.0f, probs, &error) != LOUPE_OK) {
        status = cli_fail(&error);
    }
    if (status == 0) {
        top_k(probs, info.n_vocab, (int)k, best);
        if (json) {
            fputs("{\"ids\": [", stdout);
            for (size_t i = 0; i < input.n_ids; i++) printf("%s%d", i ? ", " : "", input.ids[i]);
            fputs("], \"next\": [", stdout);
            for (int i = 0; i < k; i++) {
                size_t n = 0;
                const char *bytes = loupe_tokenizer_token_bytes(input.tokenizer, best[i], &n);
                printf("%s{\"id\": %d, \"text\": ", i ? ", " : "", best[i]);
                cli_json_string(stdout, bytes, n);
                printf(", \"prob\": %.6g}", probs[best[i]]);
            }
            fputs("]}\n", stdout);
        } else {
            char rendered[256];
            printf("next token after %zu tokens:\n", input.n_ids);
            for (int i = 0; i < k; i++) {
                loupe_tokenizer_render(input.tokenizer, best[i], rendered, sizeof rendered);
                /* pad by terminal columns, not bytes: "␣" is three bytes wide in UTF-8 */
                int pad = 20 - lens_text_width(rendered);
                printf("%4d  %s%*s %8.4f  (id %d)\n", i + 1, rendered, pad > 0 ? pad : 0, "", probs[best[i]],
                       best[i]);
            }
        }
    }
    free(best);
    free(probs);
    cli_input_free(&input);
    return status;
}
