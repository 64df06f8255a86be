/*
 * corpus_team.h - a corpus run shared by several processes (loupe-mpi,
 * corpus_mpi.c; docs/SCALE.md). `loupe corpus` runs alone; a member of a
 * team scores its shard (member of n_members, the --shard rule) and hands
 * its state to `reduce`, which combines the members' states and tells which
 * process writes the report. The team itself (MPI) stays out of
 * cmd_corpus.c, so the plain loupe links no MPI library.
 */
#ifndef LOUPE_CLI_CORPUS_TEAM_H
#define LOUPE_CLI_CORPUS_TEAM_H

#include <stdbool.h>
#include <stdint.h>

#include "corpus_state.h"

typedef struct corpus_team {
    uint32_t member, n_members; /* this process's shard, and the shard count */
    /* Called once on every member when its run ended: state its aggregate
     * (NULL when the run could not start), status its exit status so far,
     * token_counts (V) of --counts and token_bytes (V) of the tokenizer, or
     * NULL, as corpus_state_decode takes them. Returns the status of the whole
     * run; sets *reports on the one member that writes the report, with
     * *merged (owned by the caller afterwards) the state of all members. */
    int (*reduce)(void *user, const corpus_state *state, int status, const int64_t *token_counts,
                  const int32_t *token_bytes, corpus_state *merged, bool *reports);
    void *user;
} corpus_team;

/* `loupe corpus` as one member of a team (team NULL: alone, as cmd_corpus).
 * With a team, --shard is refused (the team deals the shards), --checkpoint
 * FILE becomes FILE.rankR per member, and --save-state and the report are
 * written once, by the reporting member, from the merged state. */
int cmd_corpus_team(int argc, char **argv, const corpus_team *team);

#endif
