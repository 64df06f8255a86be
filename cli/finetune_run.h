/*
 * finetune_run.h - the state of a `loupe finetune` run (cmd_finetune.c),
 * shared with its record, training.json (finetune_record.c).
 */
#ifndef LOUPE_CLI_FINETUNE_RUN_H
#define LOUPE_CLI_FINETUNE_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "corpus_output.h"
#include "training_data.h"

typedef struct finetune_options {
    const char *model, *out, *progress, *eval, *lens_rows_text;
    long steps, warmup, context, batch_tokens, micro_batch, seed, eval_every, checkpoint_every, stop_after;
    double lens_weight, lr, min_lr_fraction, weight_decay, max_grad_norm, beta1, beta2, eps;
    bool resume, warmup_given;
    corpus_source source;
} finetune_options;

/* The losses of one evaluation on the --eval windows. */
typedef struct finetune_evaluation {
    int step;
    double loss, final_ce, lens_ce;
} finetune_evaluation;

/* The stream of one corpus: documents joined by the end-of-text token,
 * tokens not yet cut into windows. */
typedef struct token_stream {
    int32_t *ids;      /* (capacity) the tokens [first, count) are pending */
    size_t first, count, capacity;
    bool started;      /* a document was added: the next one follows an end-of-text token */
} token_stream;

typedef struct finetune_run {
    const finetune_options *chosen;
    loupe_model *model;
    loupe_tokenizer *tokenizer;
    loupe_finetuner *finetuner;
    int n_layer, n_vocab, context;  /* L, V, T */
    int32_t end_of_text;
    int windows_per_step;           /* K / T */
    int micro_batch, accumulation;  /* B, and micro-batches per step */
    token_stream stream;
    training_shuffle shuffle;
    int32_t *batch;                 /* (B, T+1) the micro-batch being gathered */
    int batch_windows;              /* windows in it */
    int micro_batches;              /* micro-batches added to the pending step */
    int64_t windows_dealt;          /* windows taken out of the shuffle (or replayed) */
    int64_t replay_windows;         /* the checkpoint's windows: only counted, not computed */
    int steps_done, steps_goal;     /* steps taken; where this run stops (--steps or --stop-after) */
    int first_step;                 /* steps_done when this run started (a resumed run's checkpoint) */
    loupe_finetune_losses *history; /* (steps_done) each step's losses */
    size_t history_capacity;
    finetune_evaluation *evaluations; /* (n_evaluations) */
    int n_evaluations, evaluations_capacity;
    int32_t *eval_ids;              /* (n_eval_windows, T+1) the --eval windows */
    int n_eval_windows;
    bool progress;
    double started;
    double eval_seconds;            /* spent in evaluations, left out of the rate */
    double step_began;              /* when the pending step's first window was gathered */
    int status;                     /* an exit status once something failed */
    loupe_error error;
} finetune_run;

/* ------------------------------------------------------------------------
 * The record of the run: training.json (finetune_record.c)
 * ---------------------------------------------------------------------- */

/* "OUT/name" (caller frees); NULL when out of memory. */
char *finetune_out_path(const finetune_options *chosen, const char *name);

/* training.json's text for the steps done so far (caller frees with
 * cJSON_free); NULL when out of memory. No timings: the same run writes the
 * same bytes, interrupted or not. */
char *finetune_record_text(const finetune_run *run);

/* The --out folder before a run that does not resume: new, empty, or one
 * finetune wrote (it is written again); anything else is refused before any
 * training. Returns 0 or an exit status with the message printed. */
int finetune_check_out_folder(const finetune_options *chosen);

/* --resume, before the checkpoint is read: the folder's training.json must
 * be a finetune record (*record_out, caller deletes; NULL on failure) of this run's settings.
 * Returns 0 or an exit status with the message printed. */
int finetune_resume_settings(finetune_run *run, cJSON **record_out);

/* --resume, once the checkpoint is read (run->steps_done set): the record's
 * losses of the checkpoint's steps and its evaluations up to that step
 * become this run's history. Returns 0 or an exit status with the message
 * printed. */
int finetune_resume_history(finetune_run *run, const cJSON *record);

/* Room for `needed` steps in run->history; false when out of memory. */
bool finetune_grow_history(finetune_run *run, size_t needed);

/* Appends an evaluation to run->evaluations; false when out of memory. */
bool finetune_add_evaluation(finetune_run *run, const finetune_evaluation *evaluation);

#endif
