/*
 * plot_labels.c - the words and numbers every lens picture shares: token
 * labels cut to a width, the title, the colour bar's caption and its ticks.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "plot.h"

const lens_rgb plot_undefined_colour = {0xD9, 0xD9, 0xD9};

char *plot_token_label(const lens_view *view, int32_t id, char *buffer) {
    buffer[0] = '\0';
    if (id < 0) return buffer;
    char rendered[4 * PLOT_LABEL_CAPACITY];
    loupe_tokenizer_render(view->tokenizer, id, rendered, sizeof rendered);
    lens_text_fit(rendered, PLOT_TOKEN_MAX_WIDTH, buffer, PLOT_LABEL_CAPACITY);
    return buffer;
}

char *plot_title(const lens_view *view, const plot_style *style, char *buffer) {
    const char *vs = style->metric.vs == LENS_VS_FINAL ? "vs the final row" : "vs the input row";
    char tracked[PLOT_LABEL_CAPACITY * 2];
    bool named = lens_metric_tracked_name(&style->metric, view, tracked, sizeof tracked) != NULL;
    if (style->metric.kind == LENS_METRIC_CERTAINTY) /* compares no row */
        snprintf(buffer, PLOT_TITLE_CAPACITY, "%s: %s", style->model_name, lens_metric_describe(&style->metric));
    else
        snprintf(buffer, PLOT_TITLE_CAPACITY, "%s: %s, %s%s%s", style->model_name, lens_metric_describe(&style->metric),
                 vs, named ? "; " : "", tracked);
    return buffer;
}

char *plot_scale_caption(const lens_metric *metric, const lens_scale *scale, char *buffer, size_t capacity) {
    const char *how = scale->kind == LENS_METRIC_PROB    ? "0 to 1"
                      : scale->kind == LENS_METRIC_RANK  ? "log scale, rank 1 brightest"
                      : scale->kind == LENS_METRIC_CERTAINTY ? "log scale from 1 to the largest margin shown"
                      : scale->kind == LENS_METRIC_LOGIT ? "over the range shown"
                                                         : "from 0 to the largest value shown";
    snprintf(buffer, capacity, "colour: %s; %s", lens_metric_describe(metric), how);
    return buffer;
}

int plot_axis_ticks(double low, double high, bool log_axis, plot_tick *ticks, int capacity) {
    int n = 0;
    if (log_axis) {
        if (!(low > 0.0) || !(high >= low)) return 0;
        for (double value = pow(10.0, floor(log10(low))); value <= high * (1 + 1e-9) && n < capacity; value *= 10.0)
            if (value >= low * (1 - 1e-9)) ticks[n++] = (plot_tick){.value = value};
        if (n == 0) ticks[n++] = (plot_tick){.value = low};
        return n;
    }
    if (!(high > low)) {
        if (capacity > 0 && isfinite(low)) ticks[n++] = (plot_tick){.value = low};
        return n;
    }
    double raw = (high - low) / 4.0, magnitude = pow(10.0, floor(log10(raw)));
    double step = raw / magnitude < 1.5 ? magnitude : raw / magnitude < 3.5 ? 2 * magnitude : raw / magnitude < 7.5 ? 5 * magnitude : 10 * magnitude;
    for (double value = ceil(low / step - 1e-9) * step; value <= high + step * 1e-9 && n < capacity; value += step)
        ticks[n++] = (plot_tick){.value = fabs(value) < step * 1e-9 ? 0.0 : value};
    return n;
}

int plot_scale_ticks(const lens_scale *scale, plot_tick *ticks, int capacity) {
    bool log_axis = scale->kind == LENS_METRIC_RANK || scale->kind == LENS_METRIC_CERTAINTY;
    int n = plot_axis_ticks(scale->low, log_axis && scale->high < 1.0 ? 1.0 : scale->high, log_axis, ticks, capacity);
    for (int i = 0; i < n; i++) {
        ticks[i].position = lens_scale_position(scale, ticks[i].value);
        lens_metric_format(scale->kind, ticks[i].value, ticks[i].label, sizeof ticks[i].label);
    }
    return n;
}
