/*
 * corpus_identity.h - the identity of a corpus run as the "key=value" lines
 * a corpus state records (docs/SCALE.md): the model (config and weights
 * hashes), the lens, every option that changes a statistic, and the inputs;
 * and a report rebuilt from them, so that `loupe corpus-merge` writes what
 * `loupe corpus` writes without the model at hand.
 */
#ifndef LOUPE_CLI_CORPUS_IDENTITY_H
#define LOUPE_CLI_CORPUS_IDENTITY_H

#include "corpus_output.h"
#include "corpus_state.h"

/* The identity lines of the run `report` describes (its info, source,
 * windows, options, lens and tracked tokens set), NUL-terminated, caller
 * frees; NULL with a message printed when a file cannot be hashed or
 * memory runs out. Hashes config.json and every *.safetensors file of the
 * model folder, the tuned lens's files, and the first MiB of each input. */
char *corpus_identity_build(const corpus_report *report);

/* What a report rebuilt from a state points into. */
typedef struct corpus_identity_storage {
    loupe_model_info info;
    char directory[4096], activation[64], counts[4096], tuned[4096];
    char **paths;          /* (n_paths) owned */
    int n_paths;
    corpus_source source;
    int32_t track_ids[LOUPE_LENS_MAX_TRACK];
} corpus_identity_storage;

/* Fills the report's model, source, windows, options, lens, tracked tokens,
 * counters and rows from a state (its stats not taken: the caller sets
 * report->stats). name names the state in messages. Returns 0, or prints an
 * error and returns CLI_EXIT_FAILURE (a key missing or malformed). */
int corpus_identity_report(const corpus_state *state, const char *name, corpus_report *report,
                           corpus_identity_storage *storage);

/* Frees the storage's paths and the report's row names. */
void corpus_identity_storage_free(corpus_identity_storage *storage, corpus_report *report);

#endif
