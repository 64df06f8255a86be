/*
 * cmd_generate.c - `loupe generate`: continue a text.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: loupe generate [--model DIR] [--tokens N] [--temperature X] [--seed S]\n"
    "                      [--file PATH | --ids LIST] [TEXT...]\n"
    "\n"
    "Prints the text followed by N generated tokens. Temperature 0 (the default)\n"
    "takes the most likely token each step; above 0 samples from softmax(logits / X)\n"
    "with a seeded generator, so the same seed gives the same text. When the text\n"
    "reaches the model's context, the oldest tokens slide out of view.\n"
    "\n"
    "  --model DIR       a Hugging Face model folder (default: the embedded gpt2-demo)\n"
    "  --tokens N        tokens to generate, 1 to 100000 (default 30)\n"
    "  --temperature X   0 for greedy, else 0.01 to 100 (default 0)\n"
    "  --seed S          seed of the sampler (default 1)\n"
    "  --file PATH       read the text from a file (default: the arguments, else stdin);\n"
    "                    one trailing newline (\\n or \\r\\n) of a file or stdin is dropped\n"
    "  --keep-newline    keep that newline\n"
    "  --no-special      read special tokens in the text (<|endoftext|>) as plain text,\n"
    "                    and add none around it (no BOS of a tokenizer.json)\n"
    "  --ids LIST        run on token ids instead of a text, e.g. --ids 464,2068,7586\n"
    "  --bos             put the model's BOS token (<|endoftext|>) first\n"
    "  --help            show this help\n";

/* splitmix64: a small, well-mixed generator; enough for sampling tokens. */
static uint64_t next_random(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* The id drawn from probs (n), or the most likely one when greedy. */
static int32_t choose_token(const float *probs, int n, bool greedy, uint64_t *random_state) {
    int32_t best = 0;
    if (greedy) {
        for (int v = 1; v < n; v++)
            if (probs[v] > probs[best]) best = v;
        return best;
    }
    double u = (double)(next_random(random_state) >> 11) * 0x1.0p-53, cumulative = 0.0;
    for (int v = 0; v < n; v++) {
        cumulative += probs[v];
        if (u < cumulative) return v;
        if (probs[v] > 0.0f) best = v;
    }
    return best; /* rounding left u above the total: the last possible token */
}

int cmd_generate(int argc, char **argv) {
    static const struct option options[] = {
        {"model", required_argument, NULL, 'm'},
        {"tokens", required_argument, NULL, 'n'},
        {"temperature", required_argument, NULL, 't'},
        {"seed", required_argument, NULL, 's'},
        {"file", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        CLI_TEXT_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    const char *model_option = NULL;
    cli_text_options text = {0};
    long n_new = 30, seed = 1;
    double temperature = 0.0;
    int option;
    optind = 1;
    while ((option = getopt_long(argc, argv, "m:n:t:s:f:h", options, NULL)) != -1) {
        switch (option) {
        case 'm': model_option = optarg; break;
        case 'n':
            if (!cli_parse_int("--tokens", optarg, 1, 100000, &n_new)) return CLI_EXIT_USAGE;
            break;
        case 't':
            if (!cli_parse_float("--temperature", optarg, 0.0, 100.0, &temperature)) return CLI_EXIT_USAGE;
            if (temperature > 0.0 && temperature < 0.01) {
                cli_error("--temperature: use 0 for greedy or at least 0.01");
                return CLI_EXIT_USAGE;
            }
            break;
        case 's':
            if (!cli_parse_int("--seed", optarg, 0, INT32_MAX, &seed)) return CLI_EXIT_USAGE;
            break;
        case 'f': text.file = optarg; break;
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
    size_t total = input.n_ids + (size_t)n_new;
    int32_t *ids = malloc(total * sizeof *ids);
    float *probs = malloc((size_t)info.n_vocab * sizeof *probs);
    if (ids == NULL || probs == NULL) {
        cli_error("out of memory");
        status = CLI_EXIT_FAILURE;
    }
    if (status == 0) {
        memcpy(ids, input.ids, input.n_ids * sizeof *ids);
        fwrite(input.text, 1, input.text_length, stdout);
        fflush(stdout);
    }
    uint64_t random_state = (uint64_t)seed;
    loupe_error error;
    /* Keys and values are kept while the text fits the context: the first
     * step runs the window, each later one only the newest token. Once the
     * window slides, every position moves, so each step runs its window. */
    loupe_kv_cache *cache = NULL;
    size_t cached_positions = total - 1 < (size_t)info.n_ctx ? total - 1 : (size_t)info.n_ctx;
    if (status == 0 && loupe_kv_cache_create(input.model, (int)cached_positions, &cache, &error) != LOUPE_OK)
        status = cli_fail(&error);
    for (size_t n = input.n_ids; status == 0 && n < total; n++) {
        size_t window = n > (size_t)info.n_ctx ? (size_t)info.n_ctx : n;
        float step_temperature = temperature > 0.0 ? (float)temperature : 1.0f;
        size_t cached = (size_t)loupe_kv_cache_length(cache);
        loupe_status step_status;
        if (window == n && n <= cached_positions)
            step_status = loupe_model_next_probs_cached(input.model, cache, ids + cached, (int)(n - cached),
                                                        step_temperature, probs, &error);
        else
            step_status = loupe_model_next_probs(input.model, ids + n - window, (int)window, step_temperature,
                                                 probs, &error);
        if (step_status != LOUPE_OK) {
            status = cli_fail(&error);
            break;
        }
        ids[n] = choose_token(probs, info.n_vocab, temperature == 0.0, &random_state);
        size_t length = 0;
        const char *bytes = loupe_tokenizer_token_bytes(input.tokenizer, ids[n], &length);
        fwrite(bytes, 1, length, stdout);
        fflush(stdout);
    }
    if (status == 0) putchar('\n');
    loupe_kv_cache_free(cache);
    free(probs);
    free(ids);
    cli_input_free(&input);
    return status;
}
