/*
 * lens_batch.h - `loupe lens --batch` (lens_batch.c): many prompts, one
 * JSON line each, the model loaded once.
 */
#ifndef LOUPE_LENS_BATCH_H
#define LOUPE_LENS_BATCH_H

#include <stdbool.h>

#include "lens_output.h"

/* What `loupe lens` passes on to the batch. */
typedef struct lens_batch_options {
    const char *model; /* --model, or NULL */
    const char *path;  /* the prompts, JSONL */
    bool strict;       /* a bad line is an error, not a warning */
    bool no_special, bos; /* as for a single text */
    bool subblocks;
    int topk;
    loupe_precision precision; /* --precision */
    lens_slice rows;   /* --layers */
} lens_batch_options;

/* Runs the lens on every prompt of options->path and writes one JSON line
 * per prompt on stdout, in the file's order. Returns the exit status. */
int lens_batch_command(const lens_batch_options *options);

#endif
