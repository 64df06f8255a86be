/*
 * finetune_record.c - training.json of `loupe finetune` (see
 * finetune_run.h): written from the run's settings, losses and evaluations;
 * read back on --resume, where its settings must be the run's and its
 * history continues. The folder's file is hostile until proven otherwise:
 * every field used is checked for its type.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "finetune_run.h"

/* The name training.json's "format" carries: a folder with it is one
 * finetune wrote (and may write again). */
static const char training_format[] = "loupe.finetune/1";

char *finetune_out_path(const finetune_options *chosen, const char *name) {
    size_t length = strlen(chosen->out) + strlen(name) + 2;
    char *path = malloc(length);
    if (path != NULL) snprintf(path, length, "%s/%s", chosen->out, name);
    return path;
}

/* The settings that decide the result, named by their options: a resumed
 * run must have the same ones. NULL when out of memory. */
static cJSON *settings_json(const finetune_run *run) {
    const finetune_options *chosen = run->chosen;
    loupe_finetune_params params = loupe_finetuner_params(run->finetuner); /* the warm-up as resolved */
    cJSON *settings = cJSON_CreateObject();
    bool ok = settings != NULL && cJSON_AddNumberToObject(settings, "lens-weight", chosen->lens_weight) &&
              (chosen->lens_rows_text ? cJSON_AddStringToObject(settings, "lens-rows", chosen->lens_rows_text)
                                      : cJSON_AddNullToObject(settings, "lens-rows")) &&
              cJSON_AddNumberToObject(settings, "steps", (double)chosen->steps) &&
              cJSON_AddNumberToObject(settings, "lr", chosen->lr) &&
              cJSON_AddNumberToObject(settings, "min-lr-fraction", chosen->min_lr_fraction) &&
              cJSON_AddNumberToObject(settings, "warmup-steps", params.warmup_steps) &&
              cJSON_AddNumberToObject(settings, "weight-decay", chosen->weight_decay) &&
              cJSON_AddNumberToObject(settings, "adam-beta1", chosen->beta1) &&
              cJSON_AddNumberToObject(settings, "adam-beta2", chosen->beta2) &&
              cJSON_AddNumberToObject(settings, "adam-eps", chosen->eps) &&
              cJSON_AddNumberToObject(settings, "max-grad-norm", chosen->max_grad_norm) &&
              cJSON_AddNumberToObject(settings, "context", run->context) &&
              cJSON_AddNumberToObject(settings, "batch-tokens", (double)run->windows_per_step * run->context) &&
              cJSON_AddNumberToObject(settings, "micro-batch", run->micro_batch) &&
              cJSON_AddNumberToObject(settings, "seed", (double)chosen->seed);
    if (!ok) {
        cJSON_Delete(settings);
        return NULL;
    }
    return settings;
}

/* Adds the losses of a step or an evaluation to array; false when out of
 * memory. */
static bool add_losses(cJSON *array, int step, double loss, double final_ce, double lens_ce,
                       const loupe_finetune_losses *optimizer) {
    cJSON *entry = cJSON_CreateObject();
    bool ok = entry != NULL && cJSON_AddItemToArray(array, entry);
    ok = ok && cJSON_AddNumberToObject(entry, "step", step) && cJSON_AddNumberToObject(entry, "loss", loss) &&
         cJSON_AddNumberToObject(entry, "final_ce", final_ce) && cJSON_AddNumberToObject(entry, "lens_ce", lens_ce);
    if (ok && optimizer != NULL)
        ok = cJSON_AddNumberToObject(entry, "grad_norm", optimizer->grad_norm) &&
             cJSON_AddNumberToObject(entry, "lr", optimizer->lr);
    return ok;
}

/* training.json's text for the steps done so far (caller frees with
 * cJSON_free); NULL when out of memory. No timings: the same run writes the
 * same bytes, interrupted or not. */
char *finetune_record_text(const finetune_run *run) {
    loupe_model_info info;
    loupe_model_get_info(run->model, &info);
    cJSON *root = cJSON_CreateObject(), *corpus = NULL, *steps = NULL, *evaluations = NULL;
    bool ok = root != NULL && cJSON_AddStringToObject(root, "format", training_format) &&
              cJSON_AddStringToObject(root, "base_model", info.directory);
    cJSON *settings = ok ? settings_json(run) : NULL;
    ok = settings != NULL && cJSON_AddItemToObject(root, "settings", settings);
    if (!ok) cJSON_Delete(settings);
    ok = ok && (corpus = cJSON_AddArrayToObject(root, "corpus")) != NULL;
    for (int i = 0; ok && i < run->chosen->source.n_paths; i++) {
        cJSON *path = cJSON_CreateString(run->chosen->source.paths[i]);
        ok = path != NULL && cJSON_AddItemToArray(corpus, path);
    }
    ok = ok && (run->chosen->eval == NULL || cJSON_AddStringToObject(root, "eval", run->chosen->eval)) &&
         cJSON_AddNumberToObject(root, "steps_done", run->steps_done) &&
         cJSON_AddNumberToObject(root, "windows_dealt", (double)run->windows_dealt) &&
         (steps = cJSON_AddArrayToObject(root, "losses")) != NULL &&
         (evaluations = cJSON_AddArrayToObject(root, "evaluations")) != NULL;
    for (int i = 0; ok && i < run->steps_done; i++) {
        const loupe_finetune_losses *step = &run->history[i];
        ok = add_losses(steps, i + 1, step->loss, step->final_ce, step->lens_ce, step);
    }
    for (int i = 0; ok && i < run->n_evaluations; i++) {
        const finetune_evaluation *e = &run->evaluations[i];
        ok = add_losses(evaluations, e->step, e->loss, e->final_ce, e->lens_ce, NULL);
    }
    char *text = ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    return text;
}

/* Reads a whole small file into a NUL-terminated buffer (caller frees);
 * NULL when it cannot be read. */
static char *read_small_file(const char *path) {
    FILE *file = fopen(path, "rb");
    if (file == NULL) return NULL;
    char *text = NULL;
    long length = fseek(file, 0, SEEK_END) == 0 ? ftell(file) : -1;
    if (length >= 0 && length < (64L << 20) && fseek(file, 0, SEEK_SET) == 0 && (text = malloc((size_t)length + 1))) {
        if (fread(text, 1, (size_t)length, file) != (size_t)length) {
            free(text);
            text = NULL;
        } else {
            text[length] = '\0';
        }
    }
    fclose(file);
    return text;
}

/* training.json of the folder parsed, or NULL (none, unreadable, not JSON). */
static cJSON *read_training_json(const finetune_options *chosen) {
    char *path = finetune_out_path(chosen, "training.json");
    char *text = path ? read_small_file(path) : NULL;
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    free(path);
    return root;
}

/* Whether root is a training.json that finetune wrote. */
static bool is_finetune_record(const cJSON *root) {
    const cJSON *format = cJSON_GetObjectItemCaseSensitive(root, "format");
    return cJSON_IsString(format) && strcmp(format->valuestring, training_format) == 0;
}

/* The --out folder before the run: new, empty, or one finetune wrote (it is
 * written again); anything else is refused before any training. */
int finetune_check_out_folder(const finetune_options *chosen) {
    struct stat info;
    if (stat(chosen->out, &info) != 0) return 0;
    if (!S_ISDIR(info.st_mode)) {
        cli_error("--out: %s is not a folder", chosen->out);
        return CLI_EXIT_FAILURE;
    }
    DIR *folder = opendir(chosen->out);
    if (folder == NULL) {
        cli_error("--out: %s: cannot open: %s", chosen->out, strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    bool empty = true;
    for (struct dirent *entry; empty && (entry = readdir(folder)) != NULL;)
        empty = strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0;
    closedir(folder);
    if (empty) return 0;
    cJSON *record = read_training_json(chosen);
    bool ours = record != NULL && is_finetune_record(record);
    cJSON_Delete(record);
    if (ours) return 0;
    char *config = finetune_out_path(chosen, "config.json");
    bool model = config != NULL && stat(config, &info) == 0;
    free(config);
    if (model)
        cli_error("--out: %s holds a model that loupe finetune did not write (no training.json of a finetune run); "
                  "give a new or empty folder",
                  chosen->out);
    else
        cli_error("--out: %s holds other files and is not a folder loupe finetune wrote; give a new or empty folder",
                  chosen->out);
    return CLI_EXIT_FAILURE;
}

/* Reads step's entries of array (the losses or the evaluations) as numbers;
 * false when one is missing or not a number. */
static bool read_losses(const cJSON *entry, double *loss, double *final_ce, double *lens_ce, int *step) {
    const cJSON *items[4] = {
        cJSON_GetObjectItemCaseSensitive(entry, "step"), cJSON_GetObjectItemCaseSensitive(entry, "loss"),
        cJSON_GetObjectItemCaseSensitive(entry, "final_ce"), cJSON_GetObjectItemCaseSensitive(entry, "lens_ce")};
    for (int i = 0; i < 4; i++)
        if (!cJSON_IsNumber(items[i]) && !(i > 0 && cJSON_IsNull(items[i]))) return false;
    *step = (int)items[0]->valuedouble;
    *loss = cJSON_IsNumber(items[1]) ? items[1]->valuedouble : NAN;
    *final_ce = cJSON_IsNumber(items[2]) ? items[2]->valuedouble : NAN;
    *lens_ce = cJSON_IsNumber(items[3]) ? items[3]->valuedouble : NAN;
    return true;
}

/* --resume, before the checkpoint is read: the folder's training.json must
 * be a finetune record (*record_out, caller deletes; NULL on failure) of this run's settings.
 * Returns 0 or an exit status with the message printed. */
int finetune_resume_settings(finetune_run *run, cJSON **record_out) {
    const finetune_options *chosen = run->chosen;
    cJSON *record = read_training_json(chosen);
    int status = 0;
    if (record == NULL || !is_finetune_record(record)) {
        cli_error("--resume: %s/training.json is missing or not the record of a loupe finetune run", chosen->out);
        cJSON_Delete(record);
        return CLI_EXIT_FAILURE;
    }
    *record_out = record;
    cJSON *settings = settings_json(run);
    const cJSON *stored = cJSON_GetObjectItemCaseSensitive(record, "settings");
    for (const cJSON *now = settings ? settings->child : NULL; status == 0 && now != NULL; now = now->next) {
        const cJSON *then = cJSON_GetObjectItemCaseSensitive(stored, now->string);
        if (then != NULL && cJSON_Compare(then, now, true)) continue;
        char *then_text = then ? cJSON_PrintUnformatted(then) : NULL, *now_text = cJSON_PrintUnformatted(now);
        cli_error("--resume: %s was trained with --%s %s, not %s", chosen->out, now->string,
                  then_text ? then_text : "(none)", now_text ? now_text : "?");
        cJSON_free(then_text);
        cJSON_free(now_text);
        status = CLI_EXIT_FAILURE;
    }
    if (settings == NULL && status == 0) {
        cli_error("out of memory");
        status = CLI_EXIT_FAILURE;
    }
    cJSON_Delete(settings);
    if (status != 0) {
        cJSON_Delete(record);
        *record_out = NULL;
    }
    return status;
}

/* --resume, once the checkpoint is read: the record's losses of the
 * checkpoint's steps and its evaluations up to that step become this run's
 * history. Returns 0 or an exit status with the message printed. */
int finetune_resume_history(finetune_run *run, const cJSON *record) {
    const finetune_options *chosen = run->chosen;
    int status = 0;
    const cJSON *losses = cJSON_GetObjectItemCaseSensitive(record, "losses");
    const cJSON *evaluations = cJSON_GetObjectItemCaseSensitive(record, "evaluations");
    int have = cJSON_IsArray(losses) ? cJSON_GetArraySize(losses) : -1;
    if (status == 0 && (have < run->steps_done || !cJSON_IsArray(evaluations))) {
        cli_error("--resume: %s/training.json holds the losses of %d steps, but the checkpoint is at step %d",
                  chosen->out, have < 0 ? 0 : have, run->steps_done);
        status = CLI_EXIT_FAILURE;
    }
    if (status == 0 && !finetune_grow_history(run, (size_t)run->steps_done)) {
        cli_error("out of memory");
        status = CLI_EXIT_FAILURE;
    }
    const cJSON *entry = status == 0 ? losses->child : NULL;
    for (int i = 0; status == 0 && i < run->steps_done; i++, entry = entry->next) {
        loupe_finetune_losses *step = &run->history[i];
        const cJSON *grad_norm = cJSON_GetObjectItemCaseSensitive(entry, "grad_norm");
        const cJSON *lr = cJSON_GetObjectItemCaseSensitive(entry, "lr");
        int number = 0;
        if (!read_losses(entry, &step->loss, &step->final_ce, &step->lens_ce, &number) || number != i + 1 ||
            !cJSON_IsNumber(grad_norm) || !cJSON_IsNumber(lr)) {
            cli_error("--resume: %s/training.json: losses[%d] is not the record of step %d", chosen->out, i, i + 1);
            status = CLI_EXIT_FAILURE;
            break;
        }
        step->grad_norm = grad_norm->valuedouble;
        step->lr = lr->valuedouble;
    }
    for (const cJSON *item = status == 0 ? evaluations->child : NULL; item != NULL && status == 0; item = item->next) {
        finetune_evaluation evaluation;
        if (!read_losses(item, &evaluation.loss, &evaluation.final_ce, &evaluation.lens_ce, &evaluation.step)) {
            cli_error("--resume: %s/training.json: an evaluation without its step and losses", chosen->out);
            status = CLI_EXIT_FAILURE;
            break;
        }
        if (evaluation.step <= run->steps_done && !finetune_add_evaluation(run, &evaluation)) {
            cli_error("out of memory");
            status = CLI_EXIT_FAILURE;
        }
    }
    return status;
}

bool finetune_grow_history(finetune_run *run, size_t needed) {
    if (needed <= run->history_capacity) return true;
    size_t capacity = run->history_capacity ? run->history_capacity : 64;
    while (capacity < needed) capacity *= 2;
    loupe_finetune_losses *grown = realloc(run->history, capacity * sizeof *grown);
    if (grown == NULL) return false;
    run->history = grown;
    run->history_capacity = capacity;
    return true;
}

bool finetune_add_evaluation(finetune_run *run, const finetune_evaluation *evaluation) {
    if (run->n_evaluations == run->evaluations_capacity) {
        int capacity = run->evaluations_capacity ? 2 * run->evaluations_capacity : 16;
        finetune_evaluation *grown = realloc(run->evaluations, (size_t)capacity * sizeof *grown);
        if (grown == NULL) return false;
        run->evaluations = grown;
        run->evaluations_capacity = capacity;
    }
    run->evaluations[run->n_evaluations++] = *evaluation;
    return true;
}

