/*
 * finetune_checkpoint.h - the checkpoint of a `loupe finetune` run: one
 * safetensors file holding, for every parameter tensor NAME of the model
 * (train_parameters' order), three F32 tensors of its shape:
 *     param/NAME        the parameters
 *     exp_avg/NAME      AdamW's first moment
 *     exp_avg_sq/NAME   AdamW's second moment
 * and a __metadata__ map of strings:
 *     loupe.kind           "loupe.finetune.checkpoint/1"
 *     loupe.step           optimizer steps taken, a whole number
 *     loupe.data_position  the caller's position in its data, a whole number
 *     loupe.model          a JSON object identifying the model (its family,
 *                          sizes and a hash of its weights)
 *     loupe.settings       a JSON object of the run's settings
 * The reader is a parser of outside files (fuzzed: fuzz/targets/
 * fuzz_finetune_checkpoint.c): it checks every tensor's name, dtype and
 * shape and each member of the expected model and settings objects, and
 * writes nothing out until all of it has passed.
 */
#ifndef LOUPE_TRAIN_FINETUNE_CHECKPOINT_H
#define LOUPE_TRAIN_FINETUNE_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "loupe.h"
#include "train/train_parameters.h"

#define FINETUNE_CHECKPOINT_KIND "loupe.finetune.checkpoint/1"

/* What a checkpoint must match. */
typedef struct finetune_checkpoint_run {
    const train_parameters *layout; /* the tensors' names, shapes and offsets (its values are not read) */
    const char *model_json;         /* a JSON object: the model's identity */
    const char *settings_json;      /* a JSON object: the run's settings */
    int max_step;                   /* the most steps a checkpoint of the run can have taken */
} finetune_checkpoint_run;

/* Writes the checkpoint to path atomically (file_replace): values,
 * exp_avg and exp_avg_sq are (layout->n_values); step >= 0,
 * data_position >= 0. Errors as safetensors_write_file's. */
loupe_status finetune_checkpoint_write(const char *path, const finetune_checkpoint_run *run, const float *values,
                                       const float *exp_avg, const float *exp_avg_sq, int step, int64_t data_position,
                                       loupe_error *error);

/* Reads a checkpoint from bytes (size; not copied, any alignment) named
 * `name` in messages. Everything checked, it fills values, exp_avg,
 * exp_avg_sq (run->layout->n_values each), *step and *data_position; on any
 * error it writes none of them. Errors (one line naming the file and the
 * field): LOUPE_ERROR_FORMAT for a file that is no such checkpoint or does
 * not fit the layout (a tensor missing, extra, of another dtype or shape);
 * LOUPE_ERROR_ARGUMENT for a checkpoint of another model or other settings
 * (the first member that differs, both values). */
loupe_status finetune_checkpoint_parse(const uint8_t *bytes, size_t size, const char *name,
                                       const finetune_checkpoint_run *run, float *values, float *exp_avg,
                                       float *exp_avg_sq, int *step, int64_t *data_position, loupe_error *error);

/* finetune_checkpoint_parse of the file at path (mapped; messages name the path). */
loupe_status finetune_checkpoint_read(const char *path, const finetune_checkpoint_run *run, float *values,
                                      float *exp_avg, float *exp_avg_sq, int *step, int64_t *data_position,
                                      loupe_error *error);

#endif
