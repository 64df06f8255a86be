/*
 * fuzz_corpus_json.c - the corpus JSON that `loupe plot` redraws, on any
 * bytes: corpus_json_read either refuses the document with a one-line error
 * or returns plot data whose layers, names, fractions and buckets are
 * within their documented bounds.
 */
#include <math.h>
#include <string.h>

#include "corpus_output.h"
#include "fuzz_target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    corpus_plot_data *plot = NULL;
    loupe_error error;
    loupe_status status = corpus_json_read((const char *)data, size, "corpus.json", &plot, &error);
    fuzz_check_error(status, &error);
    if (status != LOUPE_OK) {
        if (plot != NULL) fuzz_fail("a refused document still returned plot data");
        return 0;
    }
    int R = plot->n_rows;
    if (R < 1 || R > CORPUS_PLOT_MAX_ROWS) fuzz_fail("an accepted document with a layer count out of bounds");
    if (plot->n_buckets < 0 || plot->n_buckets > CORPUS_PLOT_MAX_BUCKETS) fuzz_fail("too many buckets");
    if (memchr(plot->model_name, '\0', sizeof plot->model_name) == NULL) fuzz_fail("an unterminated model name");
    if (plot->positions < 0) fuzz_fail("a negative position count");
    for (int row = 0; row < R; row++) {
        if (memchr(plot->row_names[row], '\0', sizeof plot->row_names[row]) == NULL)
            fuzz_fail("an unterminated layer name");
        double fractions[] = {plot->top1_final[row], plot->top1_target[row]};
        for (int f = 0; f < 2; f++)
            if (!isnan(fractions[f]) && !(fractions[f] >= 0.0 && fractions[f] <= 1.0))
                fuzz_fail("a fraction outside [0, 1]");
        for (int m = 0; m < CORPUS_PLOT_METRICS; m++) {
            double values[] = {plot->median[m * R + row], plot->p10[m * R + row], plot->p90[m * R + row]};
            for (int v = 0; v < 3; v++)
                if (isinf(values[v])) fuzz_fail("an infinite statistic");
        }
    }
    for (int b = 0; b < plot->n_buckets; b++)
        if (plot->bucket_positions[b] <= 0) fuzz_fail("an empty bucket kept");
    corpus_plot_data_free(plot);
    return 0;
}
