/*
 * fuzz_corpus_state.c - the corpus state files that `loupe corpus-merge`
 * and `loupe corpus --resume` read, on any bytes: corpus_state_decode either
 * refuses them with a one-line error or returns a state whose shards,
 * counters and statistics are within bounds; every statistic can then be
 * read, and encoding it again gives bytes that decode to the same encoding
 * (the state survives a round trip unchanged).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "corpus_state.h"
#include "fuzz_target.h"
#include "util/byte_buffer.h"
#include "util/string_map.h"

/* Reads every statistic the report writers read. */
static void read_everything(loupe_corpus_stats *stats) {
    int R = loupe_corpus_stats_n_rows(stats);
    for (int row = 0; row < R; row++) {
        for (int m = 0; m < LOUPE_CORPUS_METRIC_COUNT; m++) {
            loupe_corpus_summary summary = loupe_corpus_stats_summary(stats, row, (loupe_corpus_metric)m);
            if (summary.count < 0 || (summary.count > 0 && (isnan(summary.median) || summary.p10 > summary.p90)))
                fuzz_fail("a summary out of order");
        }
        double fraction = loupe_corpus_stats_top1_final(stats, row);
        if (!isnan(fraction) && !(fraction >= 0.0 && fraction <= 1.0)) fuzz_fail("a fraction outside [0, 1]");
        for (int k = 0; k < loupe_corpus_stats_n_tracked(stats); k++)
            (void)loupe_corpus_stats_tracked_summary(stats, k, row, LOUPE_CORPUS_TRACKED_RANK);
        for (int b = 0; b < loupe_corpus_stats_n_buckets(stats); b++)
            (void)loupe_corpus_stats_bucket_summary(stats, b, row, LOUPE_CORPUS_INPUT_RANK);
        loupe_corpus_correlation rho = loupe_corpus_stats_spearman(stats, row);
        if (rho.defined && !(rho.rho >= -1.0 && rho.rho <= 1.0)) fuzz_fail("rho outside [-1, 1]");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    corpus_state state;
    loupe_error error;
    byte_writer file;
    byte_writer_init(&file);
    byte_writer_bytes(&file, data, size);
    byte_writer_u64(&file, string_hash(data, size));
    if (file.failed) return 0;
    loupe_status status = corpus_state_decode(file.data, file.size, "fuzz.state", NULL, NULL, &state, &error);
    byte_writer_free(&file);
    fuzz_check_error(status, &error);
    if (status != LOUPE_OK) {
        corpus_state_free(&state);
        return 0;
    }
    if (state.n_covered < 1 || state.n_covered > state.n_shards || state.identity == NULL ||
        loupe_corpus_stats_positions(state.stats) != state.positions)
        fuzz_fail("an accepted state out of bounds");
    read_everything(state.stats);
    uint8_t *bytes = NULL, *again = NULL;
    size_t n = 0, n_again = 0;
    corpus_state copy;
    if (corpus_state_encode(&state, &bytes, &n, &error) != LOUPE_OK) fuzz_fail("an accepted state not encoded");
    if (corpus_state_decode(bytes, n, "again.state", NULL, NULL, &copy, &error) != LOUPE_OK)
        fuzz_fail("a re-encoded state refused");
    if (corpus_state_encode(&copy, &again, &n_again, &error) != LOUPE_OK || n != n_again || memcmp(bytes, again, n))
        fuzz_fail("a state changed in a round trip");
    free(bytes);
    free(again);
    corpus_state_free(&copy);
    corpus_state_free(&state);
    return 0;
}
