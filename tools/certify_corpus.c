/*
 * certify_corpus.c - the certified lens over a corpus, for the interval
 * experiment of docs/FINDINGS.md: per lens row the median and 90 % quantile
 * of the residual stream's relative radius (over every entry of every
 * window, from a log-spaced histogram: quantiles to 1/20 of a decade), the
 * fraction of top1_certain cells, and per block step the geometric mean over
 * windows of that step's median relative radius (which operations widen
 * the balls most).
 *
 * usage: certify_corpus MODEL_DIR CORPUS [WEIGHT_RADIUS] [WINDOW] [MAX_TOKENS]
 * The corpus is plain text with documents separated by <|endoftext|>; each
 * document is cut into windows of WINDOW tokens (default 128; the last one
 * shorter). WEIGHT_RADIUS is a number or bf16 / f16 (default 0); MAX_TOKENS
 * (default: all) stops early.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interval/ball.h"
#include "interval/certified_forward.h"
#include "interval/certified_lens.h"
#include "loupe.h"
#include "model/model.h"

enum { MAX_ROWS = 64, BINS = 800 }; /* 20 bins a decade over 1e-25 .. 1e15 */
#define BIN_FLOOR (-25.0)

typedef struct row_totals {
    double histogram[BINS + 2]; /* [0] below the floor (exact too), [BINS + 1] infinite */
    long entries, cells, certain;
} row_totals;

static void histogram_add(row_totals *row, double relative) {
    int bin;
    if (!(relative > 0.0)) bin = 0;
    else if (!isfinite(relative)) bin = BINS + 1;
    else {
        double position = (log10(relative) - BIN_FLOOR) * 20.0;
        bin = position < 0 ? 0 : position >= BINS ? BINS : 1 + (int)position;
    }
    row->histogram[bin]++;
    row->entries++;
}

/* The q-quantile of the histogram, as the upper edge of its bin. */
static double histogram_quantile(const row_totals *row, double q) {
    double target = q * row->entries, seen = 0.0;
    for (int bin = 0; bin < BINS + 2; bin++) {
        seen += row->histogram[bin];
        if (seen >= target) {
            if (bin == 0) return 0.0;
            if (bin == BINS + 1) return INFINITY;
            return pow(10.0, BIN_FLOOR + bin / 20.0);
        }
    }
    return INFINITY;
}

typedef struct experiment {
    row_totals rows[MAX_ROWS];
    int next_row;
} experiment;

static loupe_status tally_tap(void *user, loupe_tap_kind kind, int layer, const double *mid, const float *rad,
                              int T, int C) {
    (void)kind;
    (void)layer;
    experiment *e = user;
    row_totals *row = &e->rows[e->next_row++];
    size_t n = (size_t)T * C;
    double squares = 0.0;
    for (size_t i = 0; i < n; i++) squares += mid[i] * mid[i];
    double floor = 1e-6 * sqrt(squares / (double)n);
    for (size_t i = 0; i < n; i++)
        if (fabs(mid[i]) > floor) histogram_add(row, rad[i] / fabs(mid[i]));
    return LOUPE_OK;
}

static char *read_file(const char *path, size_t *length) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)size + 1);
    if (text != NULL && fread(text, 1, (size_t)size, f) != (size_t)size) {
        free(text);
        text = NULL;
    }
    fclose(f);
    if (text != NULL) text[size] = '\0', *length = (size_t)size;
    return text;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: certify_corpus MODEL_DIR CORPUS [WEIGHT_RADIUS] [WINDOW] [MAX_TOKENS]\n");
        return 2;
    }
    double weight_radius = 0.0;
    if (argc > 3 && ball_weight_radius_parse(argv[3], &weight_radius) != 0) {
        fprintf(stderr, "certify_corpus: bad weight radius '%s'\n", argv[3]);
        return 2;
    }
    int window = argc > 4 ? atoi(argv[4]) : 128;
    long max_tokens = argc > 5 ? atol(argv[5]) : -1;
    loupe_model *model = NULL;
    loupe_tokenizer *tokenizer = NULL;
    loupe_error error;
    if (loupe_model_open(argv[1], &model, &error) != LOUPE_OK ||
        loupe_tokenizer_open(argv[1], &tokenizer, &error) != LOUPE_OK) {
        fprintf(stderr, "certify_corpus: %s\n", error.message);
        return 1;
    }
    const model_description *d = &model->description;
    int L = d->n_layer, R = 1 + L;
    if (window < 1 || window > d->n_ctx || R > MAX_ROWS) return 2;
    size_t length = 0;
    char *text = read_file(argv[2], &length);
    if (text == NULL) {
        fprintf(stderr, "certify_corpus: cannot read %s\n", argv[2]);
        return 1;
    }
    static experiment totals;
    double (*widths)[CERTIFIED_STEP_COUNT] = calloc((size_t)L, sizeof *widths);
    double (*log_widths)[CERTIFIED_STEP_COUNT] = calloc((size_t)L, sizeof *log_widths);
    long windows = 0, tokens = 0;
    const char *separator = "<|endoftext|>";
    for (char *doc = text; doc != NULL && *doc != '\0' && (max_tokens < 0 || tokens < max_tokens);) {
        char *end = strstr(doc, separator);
        size_t doc_length = end != NULL ? (size_t)(end - doc) : strlen(doc);
        int32_t *ids = NULL;
        size_t count = 0;
        if (loupe_tokenizer_encode(tokenizer, doc, doc_length, &ids, &count, &error) != LOUPE_OK) {
            fprintf(stderr, "certify_corpus: %s\n", error.message);
            return 1;
        }
        for (size_t first = 0; first + 1 < count && (max_tokens < 0 || tokens < max_tokens); first += window) {
            int T = count - first < (size_t)window ? (int)(count - first) : window;
            certified_kernel_widths kernel = {.n_layer = L, .widths = widths};
            experiment one = {0};
            certified_forward_params params = {.tap = tally_tap, .tap_user = &one, .weight_radius = weight_radius,
                                               .widths = &kernel};
            certified_lens *lens = NULL;
            if (certified_forward(model, ids + first, T, &params, &error) != LOUPE_OK ||
                certified_lens_run(model, ids + first, T, false, weight_radius, NULL, &lens, &error) != LOUPE_OK) {
                fprintf(stderr, "certify_corpus: %s\n", error.message);
                return 1;
            }
            for (int r = 0; r < R; r++) {
                for (int b = 0; b < BINS + 2; b++) totals.rows[r].histogram[b] += one.rows[r].histogram[b];
                totals.rows[r].entries += one.rows[r].entries;
                for (int t = 0; t < T; t++) {
                    totals.rows[r].cells++;
                    totals.rows[r].certain += certified_lens_cell(lens, r, t)->top1_certain;
                }
            }
            for (int l = 0; l < L; l++)
                for (int s = 0; s < CERTIFIED_STEP_COUNT; s++)
                    log_widths[l][s] += widths[l][s] > 0 ? log10(widths[l][s]) : (isinf(widths[l][s]) ? 40 : -40);
            certified_lens_free(lens);
            windows++;
            tokens += T;
        }
        loupe_free(ids);
        doc = end != NULL ? end + strlen(separator) : NULL;
    }
    printf("model %s, weight radius %g, %ld tokens in %ld windows of up to %d\n", argv[1], weight_radius, tokens,
           windows, window);
    printf("row    median-radius  p90-radius  top1_certain\n");
    for (int r = 0; r < R; r++) {
        char name[32];
        loupe_lens_row_label(L, false, r, name, sizeof name);
        printf("%-6s %13.3g %11.3g  %6.1f %%\n", name, histogram_quantile(&totals.rows[r], 0.5), histogram_quantile(&totals.rows[r], 0.9),
               100.0 * totals.rows[r].certain / (double)(totals.rows[r].cells ? totals.rows[r].cells : 1));
    }
    printf("per block step: geometric mean over windows of the median relative radius\n");
    printf("layer   norm_1      qkv   attention  resid_1   norm_2       up   activation  resid_2\n");
    for (int l = 0; l < L; l++) {
        printf("%-5d", l + 1);
        for (int s = 0; s < CERTIFIED_STEP_COUNT; s++) printf(" %9.2e", pow(10.0, log_widths[l][s] / windows));
        printf("\n");
    }
    free(widths);
    free(log_widths);
    free(text);
    loupe_tokenizer_close(tokenizer);
    loupe_model_close(model);
    return 0;
}
