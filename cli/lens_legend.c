/*
 * lens_legend.c - the legend under the lens table: what the cells, the rows
 * and the marker are, and, when colouring, the metric with its scale drawn
 * as coloured swatches labelled with their values.
 */
#include <math.h>
#include <string.h>

#include "lens_output.h"

enum { SWATCHES = 6, SWATCH_WIDTH = 8 };


/* The value at ramp position t: the inverse of lens_scale_position. */
static double value_at(const lens_scale *scale, double t) {
    if (scale->kind == LENS_METRIC_RANK) return exp((1.0 - t) * log(scale->high));
    if (scale->kind == LENS_METRIC_CERTAINTY) return exp(t * log(scale->high));
    return scale->low + t * (scale->high - scale->low);
}

/* The ramp from its dark end to its bright end, each swatch labelled. */
static void print_swatches(FILE *out, const lens_scale *scale, lens_colour_mode mode) {
    fputs("  scale:  ", out);
    for (int i = 0; i < SWATCHES; i++) {
        double t = (double)i / (SWATCHES - 1);
        char number[32];
        lens_metric_format(scale->kind, value_at(scale, t), number, sizeof number);
        int length = (int)strlen(number);
        int left = (SWATCH_WIDTH - length) / 2;
        if (left < 1) left = 1;
        int right = SWATCH_WIDTH - length - left;
        if (right < 1) right = 1;
        lens_colour_begin(out, mode, lens_colour_ramp(t));
        fprintf(out, "%*s%s%*s", left, "", number, right, "");
        lens_colour_end(out, mode);
    }
    fputc('\n', out);
}

void lens_legend_print(FILE *out, const lens_view *view, const lens_table_style *style) {
    const lens_metric *metric = &style->metric;
    fputs("\nlegend:\n", out);
    fputs("  cells:  the lens's top-1 guess for the next token at each row and position;\n"
          "          each column is headed by the token at its position\n",
          out);
    fprintf(out, "  rows:   input = the embeddings, hN = after block N%s%s; %s\n",
            view->subblocks ? ", hN.attn = after block N's attention" : "",
            view->contributions ? ", hN.attn_out / hN.mlp_out = what its attention / MLP adds" : "",
            style->top_down ? "input row at the top" : "input row at the bottom");
    fputs("  *:      the model's final top-1 at this position is the true next token\n", out);
    if (view->tuned_directory != NULL)
        fprintf(out, "  lens:   the tuned lens of %s: every row but the last through its translator\n",
                view->tuned_directory);
    bool show_metric = style->colour != LENS_COLOUR_NONE || style->values;
    if (!show_metric) return;
    fprintf(out, "  %-8s%s (--metric %s)\n", style->colour != LENS_COLOUR_NONE ? "colour:" : "values:",
            lens_metric_describe(metric), lens_metric_names[metric->kind]);
    char tracked[256];
    if (lens_metric_tracked_name(metric, view, tracked, sizeof tracked) != NULL) fprintf(out, "  token:  %s\n", tracked);
    lens_scale scale = lens_scale_over_view(metric, view);
    char low[32], high[32];
    lens_metric_format(scale.kind, scale.low, low, sizeof low);
    lens_metric_format(scale.kind, scale.high, high, sizeof high);
    const char *how = scale.kind == LENS_METRIC_PROB    ? "linear"
                      : scale.kind == LENS_METRIC_RANK  ? "log scale, rank 1 brightest; up to the largest rank shown"
                      : scale.kind == LENS_METRIC_LOGIT ? "linear over the range shown"
                      : scale.kind == LENS_METRIC_CERTAINTY
                          ? "log scale from 1 (the intervals touch) to the largest margin shown; uncoloured: not certain"
                                                        : "linear from 0 to the largest value shown";
    if (scale.kind == LENS_METRIC_RANK)
        fprintf(out, "  range:  %s .. %s (%s)\n", high, low, how);
    else
        fprintf(out, "  range:  %s .. %s (%s)\n", low, high, how);
    if (style->colour != LENS_COLOUR_NONE) print_swatches(out, &scale, style->colour);
}
