/*
 * main.c - the loupe command: dispatches to one subcommand.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void print_usage(FILE *out) {
    fprintf(out,
            "loupe - the logit lens for transformer language models\n"
            "\n"
            "usage: loupe COMMAND [options] [TEXT]\n"
            "\n"
            "commands:\n"
            "  info       describe a model (architecture, sizes, dtype, parameters)\n"
            "  tokenize   split a text into the model's tokens\n"
            "  next       the most likely next tokens after a text\n"
            "  generate   continue a text, greedily or by sampling\n"
            "  lens       the logit lens of a text: a table, JSON or CSV\n"
            "  corpus     the lens's statistics per layer over whole corpora\n"
            "  corpus-merge  one report from the saved states of corpus shards\n"
            "  count      token frequencies of a corpus (for corpus --counts)\n"
            "  plot       draw a saved lens or corpus JSON: PNG, SVG or HTML\n"
            "  compare    two models' lenses on one text: KL between them, both top-1s\n"
            "  train-lens train a tuned lens on a corpus (for lens --tuned)\n"
            "  finetune   train the whole model so that every layer's lens predicts\n"
            "\n"
            "Every command takes --model DIR (a Hugging Face model folder; default: the\n"
            "embedded gpt2-demo model) and --help (or: loupe help COMMAND). Text comes\n"
            "from the arguments, --file PATH, or standard input.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        print_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *command = argv[1];
    /* `loupe help CMD` is `loupe CMD --help` */
    char help_option[] = "--help";
    char *help_argv[] = {argv[0], argc > 2 ? argv[2] : NULL, help_option, NULL};
    if (strcmp(command, "help") == 0 && argc > 2) {
        if (argc > 3) {
            cli_error("help: expected one command, got %d arguments", argc - 2);
            return CLI_EXIT_USAGE;
        }
        command = argv[2];
        argc = 3;
        argv = help_argv;
    } else if (strcmp(command, "--help") == 0 || strcmp(command, "-h") == 0 || strcmp(command, "help") == 0) {
        print_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(command, "--version") == 0) {
        printf("loupe %s\n", LOUPE_VERSION);
        return CLI_EXIT_OK;
    }
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } commands[] = {
        {"info", cmd_info},
        {"tokenize", cmd_tokenize},
        {"next", cmd_next},
        {"generate", cmd_generate},
        {"lens", cmd_lens},
        {"corpus", cmd_corpus},
        {"corpus-merge", cmd_corpus_merge},
        {"count", cmd_count},
        {"plot", cmd_plot},
        {"compare", cmd_compare},
        {"train-lens", cmd_train_lens},
        {"finetune", cmd_finetune},
    };
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(command, commands[i].name) != 0) continue;
        int status = commands[i].run(argc - 1, argv + 1);
        /* Output lost to a full disk or a closed pipe is a failure of every
         * command, checked once here. */
        if (fflush(stdout) != 0 || ferror(stdout)) {
            cli_error("writing the output failed");
            if (status == CLI_EXIT_OK) status = CLI_EXIT_FAILURE;
        }
        return status;
    }
    cli_error("unknown command '%s' (try loupe --help)", command);
    return CLI_EXIT_USAGE;
}
