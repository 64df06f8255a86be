/*
 * corpus_mpi.c - loupe-mpi: `mpirun -np N loupe-mpi corpus ...` shares one
 * corpus run among N MPI ranks (docs/SCALE.md). Rank R scores shard R of N
 * (the --shard rule: documents whose index is R modulo N) with its own
 * threads, then every rank sends rank 0 its status and its encoded state
 * (corpus_state_encode): lengths first (negative: the rank failed), then
 * the bytes. Rank 0 decodes them, folds them with corpus_state_merge in
 * rank order and writes the one report, as `loupe corpus` would over the
 * whole corpus. Every rank reaches the gather whatever happened to it, so a
 * failing rank (its own message on its standard error) fails the run
 * instead of hanging it. Built only where CMake finds MPI; the plain loupe
 * links no MPI library.
 */
#define _GNU_SOURCE
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "corpus_state.h"
#include "corpus_team.h"

static const char usage[] =
    "usage: mpirun -np N loupe-mpi corpus [options] FILE...\n"
    "\n"
    "loupe corpus shared among the N ranks of an MPI job: rank R scores the\n"
    "documents whose index is R modulo N, rank 0 merges the ranks' states and\n"
    "writes the report (the same as one process's). The options are loupe\n"
    "corpus's (loupe corpus --help) except --shard; --checkpoint FILE keeps one\n"
    "checkpoint per rank, FILE.rankR. docs/SCALE.md describes the recipes.\n";

typedef struct mpi_team {
    int rank, size;
} mpi_team;

/* Every rank's length (int64, negative: that rank's failure status) and
 * bytes to rank 0. *lengths (size) and *bytes are allocated on rank 0 (free
 * them); false when MPI itself failed. */
static bool gather_states(const mpi_team *team, int64_t length, const uint8_t *data, int64_t **lengths,
                          uint8_t **bytes) {
    *lengths = NULL;
    *bytes = NULL;
    if (team->rank == 0) {
        *lengths = malloc((size_t)team->size * sizeof **lengths);
        if (*lengths == NULL) MPI_Abort(MPI_COMM_WORLD, CLI_EXIT_FAILURE); /* the others wait in the gather */
    }
    if (MPI_Gather(&length, 1, MPI_INT64_T, *lengths, 1, MPI_INT64_T, 0, MPI_COMM_WORLD) != MPI_SUCCESS) return false;
    int *counts = NULL, *offsets = NULL;
    int64_t total = 0;
    if (team->rank == 0) {
        counts = calloc((size_t)team->size, sizeof *counts);
        offsets = calloc((size_t)team->size, sizeof *offsets);
        for (int r = 0; r < team->size; r++) {
            int64_t n = (*lengths)[r] > 0 ? (*lengths)[r] : 0;
            if (counts == NULL || offsets == NULL || n > INT32_MAX || total > INT32_MAX - n) {
                cli_error("mpi: the ranks' states exceed 2 GiB in all or memory ran out");
                MPI_Abort(MPI_COMM_WORLD, CLI_EXIT_FAILURE);
            }
            counts[r] = (int)n;
            offsets[r] = (int)total;
            total += n;
        }
        *bytes = malloc(total > 0 ? (size_t)total : 1);
        if (*bytes == NULL) MPI_Abort(MPI_COMM_WORLD, CLI_EXIT_FAILURE);
    }
    int sent = length > 0 ? (int)length : 0;
    int result = MPI_Gatherv(data, sent, MPI_BYTE, *bytes, counts, offsets, MPI_BYTE, 0, MPI_COMM_WORLD);
    free(counts);
    free(offsets);
    return result == MPI_SUCCESS;
}

/* Rank 0: decodes the gathered states and folds them in rank order into
 * *merged. Returns 0 or prints the error and returns CLI_EXIT_FAILURE. */
static int merge_gathered(const mpi_team *team, const int64_t *lengths, const uint8_t *bytes,
                          const int64_t *token_counts, const int32_t *token_bytes, corpus_state *merged) {
    loupe_error error;
    size_t offset = 0;
    for (int r = 0; r < team->size; r++) {
        char name[32];
        snprintf(name, sizeof name, "rank %d", r);
        corpus_state next;
        corpus_state *into = r == 0 ? merged : &next;
        loupe_status status =
            corpus_state_decode(bytes + offset, (size_t)lengths[r], name, token_counts, token_bytes, into, &error);
        if (status == LOUPE_OK && r > 0) status = corpus_state_merge(merged, "rank 0", &next, name, &error);
        if (r > 0) corpus_state_free(&next);
        if (status != LOUPE_OK) return cli_fail(&error);
        offset += (size_t)lengths[r];
    }
    return 0;
}

/* corpus_team.reduce over MPI_COMM_WORLD (see corpus_team.h). */
static int reduce_ranks(void *user, const corpus_state *state, int status, const int64_t *token_counts,
                        const int32_t *token_bytes, corpus_state *merged, bool *reports) {
    const mpi_team *team = user;
    uint8_t *data = NULL;
    size_t size = 0;
    if (status == 0 && state != NULL) {
        loupe_error error;
        if (corpus_state_encode(state, &data, &size, &error) != LOUPE_OK) status = cli_fail(&error);
    }
    if (status == 0 && state == NULL) status = CLI_EXIT_FAILURE;
    int64_t length = status != 0 ? -(int64_t)status : (int64_t)size;
    int64_t *lengths;
    uint8_t *bytes;
    if (!gather_states(team, length, data, &lengths, &bytes)) {
        cli_error("mpi: gathering the ranks' states failed");
        MPI_Abort(MPI_COMM_WORLD, CLI_EXIT_FAILURE);
    }
    free(data);
    *reports = false;
    if (team->rank == 0) {
        int failed = -1;
        for (int r = 0; r < team->size && failed < 0; r++)
            if (lengths[r] < 0) failed = r;
        if (failed >= 0) {
            /* the rank printed its own error; the run fails with its status */
            cli_error("rank %d of %d failed (its message above): no report", failed, team->size);
            status = (int)-lengths[failed];
        } else {
            status = merge_gathered(team, lengths, bytes, token_counts, token_bytes, merged);
            *reports = status == 0;
        }
    }
    free(lengths);
    free(bytes);
    return status;
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "corpus") != 0) {
        bool help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
        fputs(usage, help ? stdout : stderr);
        return help ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    }
    if (MPI_Init(&argc, &argv) != MPI_SUCCESS) {
        cli_error("mpi: MPI_Init failed");
        return CLI_EXIT_FAILURE;
    }
    mpi_team ranks;
    MPI_Comm_rank(MPI_COMM_WORLD, &ranks.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks.size);
    int status;
    if (ranks.size > CORPUS_STATE_MAX_SHARDS) {
        if (ranks.rank == 0) cli_error("mpi: at most %d ranks, got %d", CORPUS_STATE_MAX_SHARDS, ranks.size);
        status = CLI_EXIT_USAGE;
    } else {
        corpus_team team = {
            .member = (uint32_t)ranks.rank, .n_members = (uint32_t)ranks.size, .reduce = reduce_ranks, .user = &ranks};
        /* only rank 0 writes the standard output (the help, the report) */
        if (ranks.rank != 0 && freopen("/dev/null", "w", stdout) == NULL)
            cli_error("mpi: rank %d: cannot silence its standard output", ranks.rank);
        status = cmd_corpus_team(argc - 1, argv + 1, &team);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            cli_error("writing the output failed");
            if (status == 0) status = CLI_EXIT_FAILURE;
        }
    }
    MPI_Finalize();
    return status;
}
