/*
 * corpus_certify.c - the certified lens over a corpus (see
 * corpus_certify.h): per row a count of scored cells and of top1_certain
 * ones and a quantile summary of the cells' relative radius; per layer and
 * kernel step the geometric mean over windows of the step's median
 * relative radius.
 */
#include "corpus_certify.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "loupe_internal.h"

struct corpus_certify {
    int n_rows, n_layer;
    double weight_radius;
    int64_t *cells, *certain;     /* (R) */
    int64_t *unbounded;           /* (R) cells whose radius is infinite: kept apart from the summary */
    quantile_summary *radius;     /* (R) the finite radii */
    quantile_shape shape;
    double (*widths)[CERTIFIED_STEP_COUNT];     /* (L) this window's */
    double (*log_widths)[CERTIFIED_STEP_COUNT]; /* (L) sums over windows of log10 */
    int64_t (*measured)[CERTIFIED_STEP_COUNT];  /* (L) windows where the step had a measurable entry */
    int64_t windows;
};

/* The steps' names in JSON and the table, in certified_step order. */
static const char *const step_names[CERTIFIED_STEP_COUNT] = {
    "norm_1", "qkv", "attention", "residual_1", "norm_2", "up", "activation", "residual_2",
};

corpus_certify *corpus_certify_create(int n_rows, int n_layer, double weight_radius) {
    corpus_certify *c = calloc(1, sizeof *c);
    if (c == NULL) return NULL;
    c->n_rows = n_rows, c->n_layer = n_layer, c->weight_radius = weight_radius;
    c->cells = calloc((size_t)n_rows, sizeof *c->cells);
    c->certain = calloc((size_t)n_rows, sizeof *c->certain);
    c->unbounded = calloc((size_t)n_rows, sizeof *c->unbounded);
    c->radius = calloc((size_t)n_rows, sizeof *c->radius);
    c->widths = calloc((size_t)n_layer + 1, sizeof *c->widths);
    c->log_widths = calloc((size_t)n_layer + 1, sizeof *c->log_widths);
    c->measured = calloc((size_t)n_layer + 1, sizeof *c->measured);
    /* relative radii from 1e-30 to 1e30 within 1 %; exact up to 10000 values */
    if (c->cells == NULL || c->certain == NULL || c->unbounded == NULL || c->radius == NULL || c->widths == NULL || c->log_widths == NULL || c->measured == NULL ||
        !quantile_shape_init(&c->shape, 0.01, 1e-30, 1e30, 10000)) {
        corpus_certify_free(c);
        return NULL;
    }
    for (int row = 0; row < n_rows; row++) quantile_summary_init(&c->radius[row]);
    return c;
}

void corpus_certify_free(corpus_certify *c) {
    if (c == NULL) return;
    for (int row = 0; c->radius != NULL && row < c->n_rows; row++) quantile_summary_free(&c->radius[row]);
    free(c->cells);
    free(c->certain);
    free(c->unbounded);
    free(c->radius);
    free(c->widths);
    free(c->log_widths);
    free(c->measured);
    free(c);
}

loupe_status corpus_certify_add(corpus_certify *c, const loupe_model *model, const int32_t *ids, int T,
                                bool subblocks, int begin, int end, loupe_error *error) {
    certified_kernel_widths widths = {.n_layer = c->n_layer, .widths = c->widths};
    certified_lens *lens = NULL;
    loupe_status status = certified_lens_run(model, ids, T, subblocks, c->weight_radius, &widths, &lens, error);
    if (status != LOUPE_OK) return status;
    for (int row = 0; row < c->n_rows && row < lens->n_rows; row++)
        for (int t = begin; t < end; t++) {
            const certified_cell *cell = certified_lens_cell(lens, row, t);
            c->cells[row]++;
            c->certain[row] += cell->top1_certain;
            /* infinite radii are counted, not summarised: the sketch's last
             * bucket would report them as 1e30 */
            if (isinf(cell->radius)) {
                c->unbounded[row]++;
                continue;
            }
            if (!quantile_summary_add(&c->radius[row], &c->shape, cell->radius)) {
                certified_lens_free(lens);
                return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for the certified statistics");
            }
        }
    for (int layer = 0; layer < c->n_layer; layer++)
        for (int step = 0; step < CERTIFIED_STEP_COUNT; step++) {
            /* 0: no entry had a midpoint above 1e-6 of the RMS (all midpoints 0 once the balls are infinite) */
            if (!(c->widths[layer][step] > 0.0)) continue;
            c->log_widths[layer][step] += log10(c->widths[layer][step]);
            c->measured[layer][step]++;
        }
    c->windows++;
    certified_lens_free(lens);
    return LOUPE_OK;
}

/* The q-quantile of row `row`'s radii, the infinite ones included: the
 * order statistic k = floor(q (n - 1)) of all n (quantile_summary.h's
 * definition) is infinite when k reaches past the finite ones, else the
 * k-th of the finite ones, asked of their summary with a q that lands on
 * k exactly. */
static double radius_quantile(corpus_certify *c, int row, double q) {
    int64_t finite = c->radius[row].count, n = finite + c->unbounded[row];
    if (n == 0) return NAN;
    int64_t k = (int64_t)floor(q * (double)(n - 1));
    if (k >= finite) return INFINITY;
    double q_finite = finite > 1 ? ((double)k + 0.5) / (double)(finite - 1) : 0.0;
    return quantile_summary_quantile(&c->radius[row], &c->shape, q_finite < 1.0 ? q_finite : 1.0);
}

/* Row `row`'s fraction of top1_certain cells, radius median and 90 %. */
static void row_numbers(corpus_certify *c, int row, double *fraction, double *median, double *p90) {
    *fraction = c->cells[row] > 0 ? (double)c->certain[row] / (double)c->cells[row] : NAN;
    *median = radius_quantile(c, row, 0.5);
    *p90 = radius_quantile(c, row, 0.9);
}

/* The geometric mean over the windows that measured it of a step's median
 * relative radius; NaN (null) where none did. */
static double step_width(const corpus_certify *c, int layer, int step) {
    int64_t n = c->measured[layer][step];
    return n > 0 ? pow(10.0, c->log_widths[layer][step] / (double)n) : NAN;
}

/* The JSON document text (length bytes, one object) with the aggregate's
 * "certified" member added last. */
static void json_write(FILE *out, corpus_certify *c, const corpus_report *report, const char *text, size_t length) {
    size_t close = length;
    while (close > 0 && text[close - 1] != '}') close--;
    if (close == 0) {
        fwrite(text, 1, length, out);
        return;
    }
    fwrite(text, 1, close - 1, out);
    fputs(",\n \"certified\": {\"weight_radius\": ", out);
    cli_json_number(out, c->weight_radius);
    fprintf(out, ", \"windows\": %lld, \"rows\": [", (long long)c->windows);
    for (int row = 0; row < c->n_rows; row++) {
        double fraction, median, p90;
        row_numbers(c, row, &fraction, &median, &p90);
        fputs(row > 0 ? ",\n   {\"row\": " : "\n   {\"row\": ", out);
        cli_json_string(out, report->row_names[row], strlen(report->row_names[row]));
        fprintf(out, ", \"cells\": %lld, \"top1_certain\": ", (long long)c->cells[row]);
        cli_json_number(out, fraction);
        fputs(", \"radius\": {\"median\": ", out);
        cli_json_number(out, median);
        fputs(", \"p90\": ", out);
        cli_json_number(out, p90);
        fputs("}}", out);
    }
    fputs("],\n  \"kernels\": [", out);
    for (int layer = 0; layer < c->n_layer; layer++) {
        fprintf(out, "%s{\"layer\": %d", layer > 0 ? ",\n   " : "\n   ", layer + 1);
        for (int step = 0; step < CERTIFIED_STEP_COUNT; step++) {
            fprintf(out, ", \"%s\": ", step_names[step]);
            cli_json_number(out, step_width(c, layer, step));
        }
        fputc('}', out);
    }
    fputs("]}", out);
    fwrite(text + close - 1, 1, length - (close - 1), out);
}

/* The aggregate as a table. */
static void table_print(FILE *out, corpus_certify *c, const corpus_report *report) {
    fprintf(out, "\ncertified lens (weight radius %g, %lld windows): per row the share of top1_certain cells\n"
                 "and the relative radius of the residual stream (median, 90 %%)\n",
            c->weight_radius, (long long)c->windows);
    fprintf(out, "%-10s %10s %12s %12s\n", "row", "certain", "radius p50", "radius p90");
    for (int row = 0; row < c->n_rows; row++) {
        double fraction, median, p90;
        row_numbers(c, row, &fraction, &median, &p90);
        fprintf(out, "%-10s %9.1f%% %12.3g %12.3g\n", report->row_names[row], 100.0 * fraction, median, p90);
    }
    fputs("\nper layer, each step's median relative radius (geometric mean over windows)\n", out);
    fprintf(out, "%-6s", "layer");
    for (int step = 0; step < CERTIFIED_STEP_COUNT; step++) fprintf(out, " %10s", step_names[step]);
    fputc('\n', out);
    for (int layer = 0; layer < c->n_layer; layer++) {
        fprintf(out, "%-6d", layer + 1);
        for (int step = 0; step < CERTIFIED_STEP_COUNT; step++) fprintf(out, " %10.3g", step_width(c, layer, step));
        fputc('\n', out);
    }
}

bool corpus_certify_options_check(bool certify, bool has_weight_radius, bool tuned) {
    if (has_weight_radius && !certify) {
        cli_error("corpus: --weight-radius needs --certify");
        return false;
    }
    if (certify && tuned) {
        cli_error("corpus --certify runs the certified logit lens: not with --tuned");
        return false;
    }
    return true;
}

void corpus_certify_print(FILE *out, corpus_certify *c, corpus_report *report, bool json) {
    if (!json) {
        corpus_table_print(out, report);
        if (c != NULL) table_print(out, c, report);
        return;
    }
    if (c == NULL) {
        corpus_json_print(out, report);
        return;
    }
    char *text = NULL;
    size_t length = 0;
    FILE *memory = open_memstream(&text, &length);
    if (memory == NULL) {
        corpus_json_print(out, report); /* out of memory: the document without the certified member */
        return;
    }
    corpus_json_print(memory, report);
    fclose(memory);
    json_write(out, c, report, text, length);
    free(text);
}
