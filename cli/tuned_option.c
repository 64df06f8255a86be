/*
 * tuned_option.c - the --tuned LENSDIR option that `loupe lens` and
 * `loupe corpus` share: opening the lens for the model, and the words
 * their outputs use to say which lens they show.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cli_tuned_open(const char *directory, bool subblocks, const loupe_model *model, loupe_tuned_lens **lens_out) {
    *lens_out = NULL;
    if (directory == NULL) return CLI_EXIT_OK;
    if (subblocks) {
        cli_error("--tuned: the tuned lens has translators for block outputs only; drop --subblocks");
        return CLI_EXIT_USAGE;
    }
    loupe_error error;
    if (loupe_tuned_lens_open(directory, model, lens_out, &error) != LOUPE_OK) return cli_fail(&error);
    return CLI_EXIT_OK;
}

const char *cli_lens_kind(const loupe_tuned_lens *lens) { return lens != NULL ? "tuned" : "logit"; }

char *cli_lens_titled(const char *model_name, bool tuned, char *buffer, size_t capacity) {
    snprintf(buffer, capacity, "%s%s", model_name, tuned ? ", tuned lens" : "");
    return buffer;
}
