/*
 * corpus_plot_data.c - the corpus_plot_data that the corpus plots draw
 * (corpus_output.h): which metrics, and its memory. Filled from a run in
 * corpus_plot.c and from a saved document in corpus_json_read.c.
 */
#include <stdlib.h>

#include "corpus_output.h"

const loupe_corpus_metric corpus_plot_metrics[CORPUS_PLOT_METRICS] = {
    LOUPE_CORPUS_TARGET_RANK,  LOUPE_CORPUS_INPUT_RANK, LOUPE_CORPUS_KL_FINAL, LOUPE_CORPUS_KL_FINAL_REV,
    LOUPE_CORPUS_KL_FIRST,     LOUPE_CORPUS_KL_FIRST_REV, LOUPE_CORPUS_ENTROPY,
};

/* Their keys in a loupe.corpus/1 document (loupe_corpus_metric_name's, here
 * so that the reader needs no statistics code: the fuzz target links only
 * the parsers; tests/cli/plot_corpus.sh reads back what corpus writes). */
const char *const corpus_plot_metric_keys[CORPUS_PLOT_METRICS] = {
    "target_rank", "input_rank", "kl_final", "kl_final_rev", "kl_first", "kl_first_rev", "entropy",
};

corpus_plot_data *corpus_plot_data_create(int n_rows) {
    corpus_plot_data *data = calloc(1, sizeof *data);
    if (data == NULL) return NULL;
    size_t R = (size_t)n_rows;
    data->n_rows = n_rows;
    data->row_names = calloc(R, sizeof *data->row_names);
    data->median = calloc(R * CORPUS_PLOT_METRICS * 3, sizeof *data->median);
    data->top1_final = calloc(R * 2, sizeof *data->top1_final);
    data->bucket_input_rank = calloc(R * CORPUS_PLOT_MAX_BUCKETS, sizeof *data->bucket_input_rank);
    if (data->row_names == NULL || data->median == NULL || data->top1_final == NULL ||
        data->bucket_input_rank == NULL) {
        corpus_plot_data_free(data);
        return NULL;
    }
    data->p10 = data->median + R * CORPUS_PLOT_METRICS;
    data->p90 = data->p10 + R * CORPUS_PLOT_METRICS;
    data->top1_target = data->top1_final + R;
    return data;
}

void corpus_plot_data_free(corpus_plot_data *data) {
    if (data == NULL) return;
    free(data->row_names);
    free(data->median);
    free(data->top1_final);
    free(data->bucket_input_rank);
    free(data);
}

