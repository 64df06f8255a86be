/*
 * corpus_state.h - the saved state of a corpus run (docs/SCALE.md): what
 * `loupe corpus --save-state` and `--checkpoint` write and `loupe
 * corpus-merge` and `--resume` read. A state is the aggregate
 * (loupe_corpus_stats_encode) plus what makes it comparable and reportable:
 * the identity of the run (model, options, inputs) as "key=value" lines,
 * the shards it covers, the run's counters and, in a checkpoint, the
 * position reached in the input. The whole file is checksummed.
 *
 * An MPI reduction needs only this header: each rank encodes its state
 * (corpus_state_encode), rank 0 gathers the byte strings, decodes them
 * (corpus_state_decode) and folds them with corpus_state_merge, which
 * refuses states of different runs or overlapping shards.
 */
#ifndef LOUPE_CLI_CORPUS_STATE_H
#define LOUPE_CLI_CORPUS_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loupe.h"

enum { CORPUS_STATE_VERSION = 1, CORPUS_STATE_MAX_SHARDS = 1 << 20 };

typedef enum corpus_state_kind {
    CORPUS_STATE_AGGREGATE = 1,  /* --save-state, corpus-merge */
    CORPUS_STATE_CHECKPOINT = 2, /* --checkpoint: also the position in the input */
} corpus_state_kind;

typedef struct corpus_state {
    corpus_state_kind kind;
    char *identity;            /* "key=value\n" lines (docs/SCALE.md), NUL-terminated; owned */
    uint32_t n_shards;         /* N of --shard I/N (1 without) */
    uint32_t *shards;          /* (n_covered) the shards it covers, ascending; owned */
    uint32_t n_covered;
    int64_t documents, windows, positions, skipped_lines;
    double seconds;            /* of the runs it sums */
    bool partial;              /* a run stopped early (Ctrl-C, an error) is in it; set on reading
                                  a checkpoint of a run not finished */
    /* checkpoint only: where to continue */
    int64_t next_document;     /* global index (over all inputs) of the document under way */
    loupe_corpus_window window; /* its last window done (end 0: none yet) */
    bool finished;             /* the run had reached the end of its input */
    loupe_corpus_stats *stats; /* owned */
} corpus_state;

/* Frees what the state owns (not the struct); a zeroed state is a no-op. */
void corpus_state_free(corpus_state *state);

/* The state as bytes (*data, *size; free with free()): magic, version,
 * kind, identity, shards, counters, [position,] the encoded aggregate, and
 * an FNV-1a checksum of everything before it. */
loupe_status corpus_state_encode(const corpus_state *state, uint8_t **data, size_t *size, loupe_error *error);

/* Reads corpus_state_encode's bytes (name names them in messages) into
 * *state (zeroed first; free it whatever the result). token_counts (V) and
 * token_bytes (V), or NULL, as loupe_corpus_stats_decode takes them. Errors are
 * LOUPE_ERROR_FORMAT "NAME: ... at byte N". */
loupe_status corpus_state_decode(const uint8_t *data, size_t size, const char *name, const int64_t *token_counts,
                                 const int32_t *token_bytes, corpus_state *state, loupe_error *error);

/* Writes the state to path atomically (temporary file, fsync, rename). */
loupe_status corpus_state_write(const char *path, const corpus_state *state, loupe_error *error);

/* Reads and decodes a state file. */
loupe_status corpus_state_read(const char *path, const int64_t *token_counts, const int32_t *token_bytes,
                               corpus_state *state, loupe_error *error);

/* The value of identity key `key` (NUL-terminated copy into buffer, capacity
 * bytes); false when absent. */
bool corpus_state_value(const corpus_state *state, const char *key, char *buffer, size_t capacity);

/* NULL when two identities describe the same run, else a message in buffer
 * naming the first key that differs (keys starting "info." are not
 * compared: file paths and folders, which may differ between machines):
 * "KEY differs: 'A' vs 'B'". */
const char *corpus_state_difference(const char *a, const char *b, char *buffer, size_t capacity);

/* Adds `from` (named name_from) to `into` (name_into): same identity, same
 * N, disjoint shards, both aggregates; else LOUPE_ERROR_ARGUMENT
 * "NAME_INTO and NAME_FROM ...: WHAT" and into unchanged. */
loupe_status corpus_state_merge(corpus_state *into, const char *name_into, const corpus_state *from,
                                const char *name_from, loupe_error *error);

#endif
