/*
 * corpus_certify.h - `loupe corpus --certify`: the certified lens
 * (src/interval/certified_lens.h) on every window, aggregated per row over
 * the scored positions: the fraction of top1_certain cells, quantiles of
 * the cells' relative radius, and each kernel's widening per layer
 * (docs/CORPUS.md, "Certified"). Shapes: R rows, L layers.
 */
#ifndef LOUPE_CLI_CORPUS_CERTIFY_H
#define LOUPE_CLI_CORPUS_CERTIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "corpus_output.h"
#include "lens_output.h" /* lens_certified_weight_radius parses --weight-radius */
#include "loupe.h"

typedef struct corpus_certify corpus_certify;

/* An empty aggregate for R rows of a model of L layers at weight radius
 * R_w >= 0; NULL when out of memory. */
corpus_certify *corpus_certify_create(int n_rows, int n_layer, double weight_radius);
void corpus_certify_free(corpus_certify *certify);

/* Runs the certified lens on one window, ids (T), with the rows of
 * `subblocks`, and adds positions [begin, end) of it. */
loupe_status corpus_certify_add(corpus_certify *certify, const loupe_model *model, const int32_t *ids, int T,
                                bool subblocks, int begin, int end, loupe_error *error);

/* --certify and --weight-radius together: false with the message when
 * --weight-radius comes without --certify or --certify with --tuned. */
bool corpus_certify_options_check(bool certify, bool has_weight_radius, bool tuned);

/* The report as a table or JSON (corpus_table_print, corpus_json_print),
 * with certify (may be NULL) its certified part: the JSON gains a
 * "certified" member, last; the table a second table. */
void corpus_certify_print(FILE *out, corpus_certify *certify, corpus_report *report, bool json);

#endif
