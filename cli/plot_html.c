/*
 * plot_html.c - the lens heatmap as one self-contained HTML page: inline
 * CSS and script, no request to anything outside the file. Every cell shows
 * its top-1 token on the metric's colour; hovering or focusing a cell shows
 * its top-k with probabilities, the ranks of the true next token, the input
 * token and the final top-1, the four KLs and the entropy. The metric, the
 * comparison (vs final / first), the token followed and the KL direction
 * can be switched in the page (the tokens given with --track among the
 * tokens to follow): the values and colours of every choice are
 * computed here, with the same code as the PNG and SVG (lens_metric.c,
 * lens_colour.c), and the script only looks them up. Arrow keys move
 * between cells; Tab reaches the grid and the controls. A grid wider than
 * the window (a long text, `loupe lens --window`) scrolls sideways in its
 * own box, the row names staying in view.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loupe_internal.h"
#include "plot.h"

enum { PALETTE_STEPS = 256, TOOLTIP_TOKEN_WIDTH = 40 };

/* Every choice of the page's controls but the tracked tokens (see
 * write_tracked_choices). */
static const struct {
    const char *key; /* kind/vs/token-or-direction, as the script builds it */
    lens_metric metric;
} choices[] = {
    {"prob/final/final-top", {LENS_METRIC_PROB, LENS_VS_FINAL, LENS_KL_FORWARD, LENS_TOKEN_FINAL_TOP, 0}},
    {"prob/final/target", {LENS_METRIC_PROB, LENS_VS_FINAL, LENS_KL_FORWARD, LENS_TOKEN_TARGET, 0}},
    {"prob/first/-", {LENS_METRIC_PROB, LENS_VS_FIRST, LENS_KL_FORWARD, LENS_TOKEN_FINAL_TOP, 0}},
    {"logit/final/final-top", {LENS_METRIC_LOGIT, LENS_VS_FINAL, LENS_KL_FORWARD, LENS_TOKEN_FINAL_TOP, 0}},
    {"logit/final/target", {LENS_METRIC_LOGIT, LENS_VS_FINAL, LENS_KL_FORWARD, LENS_TOKEN_TARGET, 0}},
    {"logit/first/-", {LENS_METRIC_LOGIT, LENS_VS_FIRST, LENS_KL_FORWARD, LENS_TOKEN_FINAL_TOP, 0}},
    {"rank/final/final-top", {LENS_METRIC_RANK, LENS_VS_FINAL, LENS_KL_FORWARD, LENS_TOKEN_FINAL_TOP, 0}},
    {"rank/final/target", {LENS_METRIC_RANK, LENS_VS_FINAL, LENS_KL_FORWARD, LENS_TOKEN_TARGET, 0}},
    {"rank/first/-", {LENS_METRIC_RANK, LENS_VS_FIRST, LENS_KL_FORWARD, LENS_TOKEN_FINAL_TOP, 0}},
    {"kl/final/forward", {LENS_METRIC_KL, LENS_VS_FINAL, LENS_KL_FORWARD, LENS_TOKEN_FINAL_TOP, 0}},
    {"kl/final/reverse", {LENS_METRIC_KL, LENS_VS_FINAL, LENS_KL_REVERSE, LENS_TOKEN_FINAL_TOP, 0}},
    {"kl/first/forward", {LENS_METRIC_KL, LENS_VS_FIRST, LENS_KL_FORWARD, LENS_TOKEN_FINAL_TOP, 0}},
    {"kl/first/reverse", {LENS_METRIC_KL, LENS_VS_FIRST, LENS_KL_REVERSE, LENS_TOKEN_FINAL_TOP, 0}},
    {"entropy/-/-", {LENS_METRIC_ENTROPY, LENS_VS_FINAL, LENS_KL_FORWARD, LENS_TOKEN_FINAL_TOP, 0}},
    {"certainty/-/-", {LENS_METRIC_CERTAINTY, LENS_VS_FINAL, LENS_KL_FORWARD, LENS_TOKEN_FINAL_TOP, 0}}, /* last: --certify only */
};
enum { N_CHOICES = sizeof choices / sizeof choices[0] };

/* The tracked tokens of the lens shown (the cells' `tracked`, the same in
 * every cell). */
static int tracked_count(const lens_view *view) {
    return lens_view_cell(view, view->rows.first, view->positions.first)->n_tracked;
}

static const char page_style[] =
    "body { font-family: %FONTS%; margin: 1em; color: #111; background: #fff; }\n"
    "h1 { font-size: 1.2em; }\n"
    "#controls { margin: 0.5em 0 1em; display: flex; gap: 1.2em; flex-wrap: wrap; }\n"
    "#controls label { font-size: 0.9em; }\n"
    "#grid { overflow-x: auto; max-width: 100%; padding-bottom: 4px; }\n"
    "table.lens { border-collapse: separate; border-spacing: 1px; font-size: 12px; }\n"
    "table.lens tr > th:first-child { position: sticky; left: 0; z-index: 1; background: #fff; }\n"
    "table.lens td.cell { padding: 2px 6px; text-align: center; white-space: pre; min-width: 2em; cursor: default; }\n"
    "table.lens td.cell:focus { outline: 3px solid #d62728; outline-offset: -2px; }\n"
    "table.lens th { font-weight: normal; white-space: pre; padding: 1px 6px; }\n"
    "table.lens th.layer { text-align: right; }\n"
    "table.lens th.next { font-weight: bold; }\n"
    "table.lens th.next.correct::after { content: ' \\25BC'; color: #d62728; }\n"
    "table.lens caption { caption-side: bottom; text-align: left; color: #555; font-size: 0.85em; padding-top: 0.4em; }\n"
    "#bar { position: relative; width: 360px; height: 14px; margin-top: 0.3em; border: 1px solid #555; }\n"
    "#ticks { position: relative; width: 360px; height: 1.4em; font-size: 11px; }\n"
    "#ticks span { position: absolute; transform: translateX(-50%); top: 2px; }\n"
    "#tip { position: absolute; display: none; background: #fff; border: 1px solid #444; padding: 6px 8px;\n"
    "       font-size: 12px; box-shadow: 2px 2px 6px rgba(0,0,0,0.25); z-index: 10; white-space: pre; }\n"
    "#tip table { border-collapse: collapse; } #tip td { padding: 0 6px 0 0; }\n";

/* The page's behaviour: look-ups only; the numbers come from the data. */
static const char page_script[] =
    "(function () {\n"
    "  'use strict';\n"
    "  var data = JSON.parse(document.getElementById('lens-data').textContent);\n"
    "  var P = data.positions.length, R = data.rows.length;\n"
    "  var cells = document.querySelectorAll('td.cell');\n"
    "  var tip = document.getElementById('tip');\n"
    "  var select = {};\n"
    "  ['metric', 'vs', 'token', 'kl'].forEach(function (id) { select[id] = document.getElementById(id); });\n"
    "  function key() {\n"
    "    var kind = select.metric.value, vs = select.vs.value;\n"
    "    if (kind === 'entropy' || kind === 'certainty') return kind + '/-/-';\n"
    "    if (kind === 'kl') return 'kl/' + vs + '/' + select.kl.value;\n"
    "    return kind + '/' + vs + '/' + (vs === 'first' ? '-' : select.token.value);\n"
    "  }\n"
    "  function tokenText(id) { return id < 0 ? '' : data.tokens[String(id)]; }\n"
    "  function paint() {\n"
    "    var m = data.metrics[key()];\n"
    "    for (var i = 0; i < cells.length; i++) {\n"
    "      var c = m.colour[i];\n"
    "      cells[i].style.background = c < 0 ? data.undefined_colour : data.palette[c];\n"
    "      cells[i].style.color = c < 0 || data.black_text[c] ? '#000' : '#fff';\n"
    "    }\n"
    "    document.getElementById('title').textContent = m.title;\n"
    "    document.getElementById('caption').textContent = m.caption;\n"
    "    var ticks = document.getElementById('ticks');\n"
    "    while (ticks.firstChild) ticks.removeChild(ticks.firstChild);\n"
    "    m.ticks.forEach(function (t) {\n"
    "      var s = document.createElement('span');\n"
    "      s.style.left = (t[0] * 100) + '%';\n"
    "      s.textContent = t[1];\n"
    "      ticks.appendChild(s);\n"
    "    });\n"
    "    select.token.disabled = ['kl', 'entropy', 'certainty'].indexOf(select.metric.value) >= 0 || select.vs.value === 'first';\n"
    "    select.kl.disabled = select.metric.value !== 'kl';\n"
    "    if (shown) show(shown);\n"
    "  }\n"
    "  function row(label, value) {\n"
    "    var tr = document.createElement('tr'), a = document.createElement('td'), b = document.createElement('td');\n"
    "    a.textContent = label; b.textContent = value; tr.appendChild(a); tr.appendChild(b); return tr;\n"
    "  }\n"
    "  function fmt(x) { return Number(x).toPrecision(4); }\n"
    "  var shown = null;\n"
    "  function show(td) {\n"
    "    shown = td;\n"
    "    var line = Number(td.dataset.line), j = Number(td.dataset.column), i = line * P + j;\n"
    "    var cell = data.cells[i], m = data.metrics[key()];\n"
    "    while (tip.firstChild) tip.removeChild(tip.firstChild);\n"
    "    var head = document.createElement('div');\n"
    "    head.textContent = data.rows[line] + ', position ' + data.positions[j] + ': after ' +\n"
    "      data.input[j] + (data.next[j] === null ? '' : ', next ' + data.next[j]);\n"
    "    tip.appendChild(head);\n"
    "    var t = document.createElement('table');\n"
    "    t.appendChild(row(m.label, m.value[i]));\n"
    "    cell.top.forEach(function (pair, k) { t.appendChild(row('top ' + (k + 1) + ': ' + tokenText(pair[0]), fmt(pair[1]))); });\n"
    "    t.appendChild(row('true next token rank', cell.target ? cell.target[0] + ' (p ' + fmt(cell.target[1]) + ')' : '-'));\n"
    "    t.appendChild(row('input token rank', cell.input[0] + ' (p ' + fmt(cell.input[1]) + ')'));\n"
    "    t.appendChild(row('final top-1 ' + tokenText(cell.final_top[0]) + ' rank', cell.final_top[1] + ' (p ' + fmt(cell.final_top[2]) + ')'));\n"
    "    cell.tracked.forEach(function (pair, k) {\n"
    "      t.appendChild(row('track:' + (k + 1) + ' ' + tokenText(data.tracked[k]) + ' rank', pair[0] + ' (p ' + fmt(pair[1]) + ')'));\n"
    "    });\n"
    "    t.appendChild(row('KL(final || row)', fmt(cell.kl[0])));\n"
    "    t.appendChild(row('KL(row || final)', fmt(cell.kl[1])));\n"
    "    t.appendChild(row('KL(input || row)', fmt(cell.kl[2])));\n"
    "    t.appendChild(row('KL(row || input)', fmt(cell.kl[3])));\n"
    "    t.appendChild(row('entropy (nats)', fmt(cell.entropy)));\n"
    "    tip.appendChild(t);\n"
    "    var box = td.getBoundingClientRect();\n"
    "    tip.style.display = 'block';\n"
    "    var room = document.documentElement.clientWidth - tip.offsetWidth - 4;\n"
    "    tip.style.left = (window.scrollX + Math.max(0, Math.min(box.left, room))) + 'px';\n"
    "    tip.style.top = (window.scrollY + box.bottom + 4) + 'px';\n"
    "    td.setAttribute('aria-describedby', 'tip');\n"
    "  }\n"
    "  function hide() { if (shown) shown.removeAttribute('aria-describedby'); shown = null; tip.style.display = 'none'; }\n"
    "  function cellAt(line, j) { return cells[line * P + j]; }\n"
    "  function move(td, line, j) {\n"
    "    line = Math.max(0, Math.min(R - 1, line)); j = Math.max(0, Math.min(P - 1, j));\n"
    "    var next = cellAt(line, j);\n"
    "    td.tabIndex = -1; next.tabIndex = 0; next.focus();\n"
    "  }\n"
    "  for (var i = 0; i < cells.length; i++) {\n"
    "    cells[i].addEventListener('focus', function (e) { show(e.target); });\n"
    "    cells[i].addEventListener('blur', hide);\n"
    "    cells[i].addEventListener('mouseenter', function (e) { show(e.target); });\n"
    "    cells[i].addEventListener('mouseleave', function () { if (document.activeElement !== shown) hide(); });\n"
    "    cells[i].addEventListener('keydown', function (e) {\n"
    "      var td = e.target, line = Number(td.dataset.line), j = Number(td.dataset.column);\n"
    "      var moves = {ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0]};\n"
    "      if (moves[e.key]) { move(td, line + moves[e.key][0], j + moves[e.key][1]); e.preventDefault(); }\n"
    "      else if (e.key === 'Home') { move(td, line, 0); e.preventDefault(); }\n"
    "      else if (e.key === 'End') { move(td, line, P - 1); e.preventDefault(); }\n"
    "      else if (e.key === 'Escape') { hide(); }\n"
    "    });\n"
    "  }\n"
    "  Object.keys(select).forEach(function (id) { select[id].addEventListener('change', paint); });\n"
    "  paint();\n"
    "})();\n";

/* The readable form of a token for tooltips: longer than in the cells. */
static void tooltip_token(const lens_view *view, int32_t id, char *buffer, size_t capacity) {
    char rendered[4 * PLOT_LABEL_CAPACITY];
    loupe_tokenizer_render(view->tokenizer, id, rendered, sizeof rendered);
    lens_text_fit(rendered, TOOLTIP_TOKEN_WIDTH, buffer, capacity);
}

/* The lens row drawn on line i (0 = the top line). */
static int row_on_line(const lens_view *view, const plot_style *style, int i) {
    return style->top_down ? view->rows.first + i : view->rows.end - 1 - i;
}

static void write_float(FILE *out, double value) {
    if (isfinite(value)) fprintf(out, "%.6g", value);
    else fputs("null", out);
}

/* {"title", "label", "caption", "ticks", "colour": [palette index or -1 per
 * cell], "value": [formatted value per cell]} for one choice. */
static void write_choice(FILE *out, const lens_view *view, const plot_style *style, const lens_metric *metric) {
    lens_scale scale = lens_scale_over_view(metric, view);
    plot_style titled = *style;
    titled.metric = *metric;
    char text[PLOT_TITLE_CAPACITY];
    fputs("{\"title\": ", out);
    plot_markup_json_string(out, plot_title(view, &titled, text));
    fputs(", \"label\": ", out);
    plot_markup_json_string(out, lens_metric_describe(metric));
    fputs(", \"caption\": ", out);
    plot_markup_json_string(out, plot_scale_caption(metric, &scale, text, sizeof text));
    fputs(", \"ticks\": [", out);
    plot_tick ticks[PLOT_MAX_TICKS];
    int n = plot_scale_ticks(&scale, ticks, PLOT_MAX_TICKS);
    for (int i = 0; i < n; i++) {
        fprintf(out, "%s[%.6f, ", i ? ", " : "", ticks[i].position);
        plot_markup_json_string(out, ticks[i].label);
        fputc(']', out);
    }
    int n_lines = view->rows.end - view->rows.first;
    for (int pass = 0; pass < 2; pass++) {
        fputs(pass == 0 ? "],\n  \"colour\": [" : "],\n  \"value\": [", out);
        for (int line = 0; line < n_lines; line++)
            for (int t = view->positions.first; t < view->positions.end; t++) {
                double value = 0.0;
                bool defined = lens_metric_value(metric, view, row_on_line(view, style, line), t, &value);
                if (line > 0 || t > view->positions.first) fputc(',', out);
                if (pass == 0) {
                    fprintf(out, "%ld", defined ? lround(lens_scale_position(&scale, value) * (PALETTE_STEPS - 1)) : -1L);
                } else {
                    char number[32] = "-";
                    if (defined) lens_metric_format(metric->kind, value, number, sizeof number);
                    plot_markup_json_string(out, number);
                }
            }
    }
    fputs("]}", out);
}

/* Records id in the set of tokens the tooltips name (seen: one flag per id). */
static void note_token(unsigned char *seen, int32_t id) {
    if (id >= 0) seen[id] = 1;
}

/* The page's data, as JSON inside a <script>. */
static loupe_status write_data(FILE *out, const lens_view *view, const plot_style *style, const char *name,
                               loupe_error *error) {
    int vocab = loupe_tokenizer_vocab_size(view->tokenizer);
    unsigned char *seen = calloc((size_t)vocab, 1);
    if (seen == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", name);
    char label[PLOT_LABEL_CAPACITY];
    int n_lines = view->rows.end - view->rows.first;
    fputs("{\"rows\": [", out);
    for (int line = 0; line < n_lines; line++) {
        if (line) fputs(", ", out);
        plot_markup_json_string(out, lens_view_row_name(view, row_on_line(view, style, line)));
    }
    fputs("],\n \"positions\": [", out);
    for (int t = view->positions.first; t < view->positions.end; t++) fprintf(out, "%s%d", t > view->positions.first ? ", " : "", t);
    for (int pass = 0; pass < 2; pass++) {
        fputs(pass == 0 ? "],\n \"input\": [" : "],\n \"next\": [", out);
        for (int t = view->positions.first; t < view->positions.end; t++) {
            if (t > view->positions.first) fputs(", ", out);
            int32_t id = pass == 0 ? lens_view_input_id(view, t) : lens_view_next_id(view, t);
            if (id < 0) {
                fputs("null", out);
                continue;
            }
            tooltip_token(view, id, label, sizeof label);
            plot_markup_json_string(out, label);
        }
    }
    fputs("],\n \"cells\": [", out);
    for (int line = 0; line < n_lines; line++)
        for (int t = view->positions.first; t < view->positions.end; t++) {
            const loupe_lens_cell *cell = lens_view_cell(view, row_on_line(view, style, line), t);
            fputs(line > 0 || t > view->positions.first ? ",\n  {\"top\": [" : "\n  {\"top\": [", out);
            for (int k = 0; k < cell->n_top; k++) {
                fprintf(out, "%s[%d, ", k ? ", " : "", cell->top_ids[k]);
                write_float(out, cell->top_probs[k]);
                fputc(']', out);
                note_token(seen, cell->top_ids[k]);
            }
            fputs("], \"target\": ", out);
            if (cell->target.id >= 0) {
                fprintf(out, "[%d, ", cell->target.rank);
                write_float(out, cell->target.prob);
                fputc(']', out);
            } else {
                fputs("null", out);
            }
            fprintf(out, ", \"input\": [%d, ", cell->input.rank);
            write_float(out, cell->input.prob);
            fprintf(out, "], \"final_top\": [%d, %d, ", cell->final_top.id, cell->final_top.rank);
            write_float(out, cell->final_top.prob);
            note_token(seen, cell->final_top.id);
            fputs("], \"tracked\": [", out);
            for (int k = 0; k < cell->n_tracked; k++) {
                fprintf(out, "%s[%d, ", k ? ", " : "", cell->tracked[k].rank);
                write_float(out, cell->tracked[k].prob);
                fputc(']', out);
                note_token(seen, cell->tracked[k].id);
            }
            fputs("], \"kl\": [", out);
            const float kls[4] = {cell->kl_final, cell->kl_final_rev, cell->kl_first, cell->kl_first_rev};
            for (int k = 0; k < 4; k++) {
                if (k) fputs(", ", out);
                write_float(out, kls[k]);
            }
            fputs("], \"entropy\": ", out);
            write_float(out, cell->entropy);
            fputc('}', out);
        }
    const loupe_lens_cell *corner = lens_view_cell(view, view->rows.first, view->positions.first);
    fputs("],\n \"tracked\": [", out);
    for (int k = 0; k < corner->n_tracked; k++) fprintf(out, "%s%d", k ? ", " : "", corner->tracked[k].id);
    fputs("],\n \"tokens\": {", out);
    bool first = true;
    for (int32_t id = 0; id < vocab; id++) {
        if (!seen[id]) continue;
        fprintf(out, "%s\"%d\": ", first ? "" : ", ", id);
        tooltip_token(view, id, label, sizeof label);
        plot_markup_json_string(out, label);
        first = false;
    }
    free(seen);
    fputs("},\n \"palette\": [", out);
    for (int i = 0; i < PALETTE_STEPS; i++) {
        fputs(i ? ", \"" : "\"", out);
        plot_markup_colour(out, lens_colour_ramp((double)i / (PALETTE_STEPS - 1)));
        fputc('"', out);
    }
    fputs("],\n \"black_text\": [", out);
    for (int i = 0; i < PALETTE_STEPS; i++)
        fprintf(out, "%s%d", i ? "," : "", lens_colour_black_text_on(lens_colour_ramp((double)i / (PALETTE_STEPS - 1))));
    fputs("],\n \"undefined_colour\": \"", out);
    plot_markup_colour(out, plot_undefined_colour);
    fputs("\",\n \"metrics\": {", out);
    for (int c = 0; c < N_CHOICES - (view->certified == NULL); c++) {
        fprintf(out, "%s\n  \"%s\": ", c ? "," : "", choices[c].key);
        write_choice(out, view, style, &choices[c].metric);
    }
    static const char *const tracked_kinds[] = {"prob", "logit", "rank"};
    for (int k = 0; k < tracked_count(view); k++)
        for (int kind = LENS_METRIC_PROB; kind <= LENS_METRIC_RANK; kind++) {
            lens_metric metric = {kind, LENS_VS_FINAL, LENS_KL_FORWARD, LENS_TOKEN_TRACKED, k};
            fprintf(out, ",\n  \"%s/final/track:%d\": ", tracked_kinds[kind - LENS_METRIC_PROB], k + 1);
            write_choice(out, view, style, &metric);
        }
    fputs("}}", out);
    return LOUPE_OK;
}

/* A <select> with its options, the chosen one selected. */
static void write_select(FILE *out, const char *id, const char *label, const char *const *values,
                         const char *const *labels, int n, int chosen) {
    fprintf(out, "<label>%s <select id=\"%s\">", label, id);
    for (int i = 0; i < n; i++)
        fprintf(out, "<option value=\"%s\"%s>%s</option>", values[i], i == chosen ? " selected" : "", labels[i]);
    fputs("</select></label>\n", out);
}

/* The "following" control: the final top-1, the true next token, then each
 * tracked token (value "track:N"), the one metric follows selected. */
static void write_token_select(FILE *out, const lens_view *view, const lens_metric *metric) {
    int chosen = metric->token == LENS_TOKEN_TRACKED ? 2 + metric->tracked : (int)metric->token;
    fprintf(out, "<label>following <select id=\"token\"><option value=\"final-top\"%s>the final top-1 token</option>"
                 "<option value=\"target\"%s>the true next token</option>",
            chosen == 0 ? " selected" : "", chosen == 1 ? " selected" : "");
    const loupe_lens_cell *corner = lens_view_cell(view, view->rows.first, view->positions.first);
    char label[PLOT_LABEL_CAPACITY];
    for (int k = 0; k < corner->n_tracked; k++) {
        fprintf(out, "<option value=\"track:%d\"%s>tracked ", k + 1, chosen == 2 + k ? " selected" : "");
        tooltip_token(view, corner->tracked[k].id, label, sizeof label);
        plot_markup_text(out, label);
        fprintf(out, " (track:%d, id %d)</option>", k + 1, corner->tracked[k].id);
    }
    fputs("</select></label>\n", out);
}

/* The selectors; certainty only with the certified lens. */
static void write_controls(FILE *out, const lens_view *view, const lens_metric *metric) {
    static const char *const kind_labels[] = {"probability", "logit", "rank", "KL divergence", "entropy", "certainty"};
    bool certified = view->certified != NULL;
    static const char *const comparisons[] = {"final", "first"};
    static const char *const comparison_labels[] = {"the final row", "the input row"};
    static const char *const directions[] = {"forward", "reverse"};
    static const char *const direction_labels[] = {"KL(reference || row)", "KL(row || reference)"};
    fputs("<div id=\"controls\">\n", out);
    write_select(out, "metric", "colour by", lens_metric_names, kind_labels, certified ? 6 : 5, metric->kind);
    write_select(out, "vs", "compared with", comparisons, comparison_labels, 2, metric->vs);
    write_token_select(out, view, metric);
    write_select(out, "kl", "KL direction", directions, direction_labels, 2, metric->kl);
    fputs("</div>\n", out);
}

/* The grid: next tokens on top, a row per lens row, input tokens below. */
static void write_table(FILE *out, const lens_view *view, const plot_style *style) {
    char label[PLOT_LABEL_CAPACITY];
    int n_lines = view->rows.end - view->rows.first;
    fputs("<div id=\"grid\">\n<table class=\"lens\" id=\"lens\" aria-label=\"logit lens: rows are layers, columns are positions\">\n"
          "<caption>Top row: the true next token (&#9660; where the model's final top-1 is right). Bottom row: the input "
          "token; each cell is a layer's top-1 guess for the token after it. Arrow keys move between cells.</caption>\n"
          "<thead><tr><th scope=\"col\">next token</th>",
          out);
    for (int t = view->positions.first; t < view->positions.end; t++) {
        fprintf(out, "<th scope=\"col\" class=\"next%s\">", lens_view_final_is_next(view, t) ? " correct" : "");
        plot_markup_text(out, plot_token_label(view, lens_view_next_id(view, t), label));
        fputs("</th>", out);
    }
    fputs("</tr></thead>\n<tbody>\n", out);
    for (int line = 0; line < n_lines; line++) {
        fputs("<tr><th scope=\"row\" class=\"layer\">", out);
        plot_markup_text(out, lens_view_row_name(view, row_on_line(view, style, line)));
        fputs("</th>", out);
        for (int t = view->positions.first; t < view->positions.end; t++) {
            int row = row_on_line(view, style, line);
            fprintf(out, "<td class=\"cell\" tabindex=\"%d\" data-line=\"%d\" data-column=\"%d\">",
                    line == 0 && t == view->positions.first ? 0 : -1, line, t - view->positions.first);
            plot_markup_text(out, plot_token_label(view, lens_view_cell(view, row, t)->top_ids[0], label));
            fputs("</td>", out);
        }
        fputs("</tr>\n", out);
    }
    fputs("</tbody>\n<tfoot><tr><th scope=\"col\">input token</th>", out);
    for (int t = view->positions.first; t < view->positions.end; t++) {
        fputs("<th scope=\"col\" class=\"input\">", out);
        plot_markup_text(out, plot_token_label(view, lens_view_input_id(view, t), label));
        fputs("</th>", out);
    }
    fputs("</tr></tfoot>\n</table>\n</div>\n", out);
}

loupe_status plot_html_write(FILE *out, const lens_view *view, const plot_style *style, const char *name,
                             loupe_error *error) {
    char title[PLOT_TITLE_CAPACITY];
    plot_title(view, style, title);
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
          "script-src 'unsafe-inline'; img-src data:\">\n<link rel=\"icon\" href=\"data:,\">\n<title>",
          out);
    plot_markup_text(out, title);
    fputs("</title>\n<style>\n", out);
    const char *fonts = strstr(page_style, "%FONTS%");
    fwrite(page_style, 1, (size_t)(fonts - page_style), out);
    fputs(plot_font_families, out);
    fputs(fonts + strlen("%FONTS%"), out);
    fputs("</style>\n</head>\n<body>\n<h1 id=\"title\">", out);
    plot_markup_text(out, title);
    fputs("</h1>\n", out);
    write_controls(out, view, &style->metric);
    write_table(out, view, style);
    fputs("<div id=\"caption\"></div>\n<div id=\"bar\" style=\"background: linear-gradient(to right", out);
    for (int i = 0; i <= 8; i++) {
        fputs(", ", out);
        plot_markup_colour(out, lens_colour_ramp(i / 8.0));
    }
    fputs(")\"></div>\n<div id=\"ticks\"></div>\n<div id=\"tip\" role=\"tooltip\"></div>\n"
          "<script type=\"application/json\" id=\"lens-data\">",
          out);
    loupe_status status = write_data(out, view, style, name, error);
    fputs("</script>\n<script>\n", out);
    fputs(page_script, out);
    fputs("</script>\n</body>\n</html>\n", out);
    if (status == LOUPE_OK && ferror(out)) status = error_set(error, LOUPE_ERROR_IO, "%s: writing the page failed", name);
    return status;
}
