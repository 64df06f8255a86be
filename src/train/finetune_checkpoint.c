/*
 * finetune_checkpoint.c - writing and reading the checkpoint of a
 * fine-tuning run (finetune_checkpoint.h).
 */
#include "train/finetune_checkpoint.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/json.h"
#include "io/safetensors.h"
#include "io/safetensors_write.h"
#include "util/error.h"
#include "util/file_map.h"

/* The three tensors each parameter has, in the order written. */
static const char *const part_prefix[3] = {"param/", "exp_avg/", "exp_avg_sq/"};

/* "PREFIX" "NAME" into a new string (caller frees), NULL when out of memory. */
static char *part_name(int part, const char *name) {
    size_t length = strlen(part_prefix[part]) + strlen(name) + 1;
    char *out = malloc(length);
    if (out != NULL) snprintf(out, length, "%s%s", part_prefix[part], name);
    return out;
}

loupe_status finetune_checkpoint_write(const char *path, const finetune_checkpoint_run *run, const float *values,
                                       const float *exp_avg, const float *exp_avg_sq, int step, int64_t data_position,
                                       loupe_error *error) {
    const train_parameters *layout = run->layout;
    const size_t n = 3 * layout->n_tensors;
    safetensors_typed_entry *entries = calloc(n > 0 ? n : 1, sizeof *entries);
    char **names = calloc(n > 0 ? n : 1, sizeof *names);
    loupe_status status = LOUPE_OK;
    if (entries == NULL || names == NULL) status = error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", path);
    const float *sources[3] = {values, exp_avg, exp_avg_sq};
    for (size_t i = 0; status == LOUPE_OK && i < layout->n_tensors; i++) {
        const train_tensor *t = &layout->tensors[i];
        for (int part = 0; part < 3; part++) {
            size_t k = 3 * i + (size_t)part;
            names[k] = part_name(part, t->name);
            if (names[k] == NULL) {
                status = error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", path);
                break;
            }
            entries[k] = (safetensors_typed_entry){names[k], SAFETENSORS_WRITE_F32, t->n_dims, {0}, sources[part] + t->offset};
            for (int d = 0; d < t->n_dims; d++) entries[k].shape[d] = t->shape[d];
        }
    }
    if (status == LOUPE_OK) {
        char step_text[32], position_text[32];
        snprintf(step_text, sizeof step_text, "%d", step);
        snprintf(position_text, sizeof position_text, "%" PRId64, data_position);
        const safetensors_metadata metadata[] = {{"loupe.kind", FINETUNE_CHECKPOINT_KIND},
                                                 {"loupe.step", step_text},
                                                 {"loupe.data_position", position_text},
                                                 {"loupe.model", run->model_json},
                                                 {"loupe.settings", run->settings_json}};
        status = safetensors_write_file(path, entries, n, metadata, sizeof metadata / sizeof metadata[0], error);
    }
    for (size_t k = 0; names != NULL && k < n; k++) free(names[k]);
    free(names);
    free(entries);
    return status;
}

/* ------------------------------------------------------------------------
 * Reading
 * ---------------------------------------------------------------------- */

/* A whole number 0 .. max written in decimal digits only. */
static bool parse_count(const char *text, int64_t max, int64_t *value) {
    if (text == NULL || text[0] < '0' || text[0] > '9') return false;
    char *end = NULL;
    errno = 0;
    long long parsed = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || parsed < 0 || parsed > max) return false;
    *value = (int64_t)parsed;
    return true;
}

/* item's JSON text for a message, at most capacity bytes (NUL included). */
static void describe(const cJSON *item, char *buffer, size_t capacity) {
    char *text = item != NULL ? cJSON_PrintUnformatted(item) : NULL;
    snprintf(buffer, capacity, "%s", item == NULL ? "(none)" : text != NULL ? text : "?");
    free(text);
}

/* Checks the stored JSON object (the string `stored_text` of __metadata__
 * `key`) against every member of the expected object: present and equal.
 * `what` names the other side in messages ("model's", "run's"); `noun`
 * starts the refusal ("a checkpoint of another model:"). */
static loupe_status check_members(const char *name, const char *key, const char *stored_text,
                                  const char *expected_text, const char *noun, const char *what, loupe_error *error) {
    cJSON *stored = NULL, *expected = NULL;
    loupe_status status = LOUPE_OK;
    if (stored_text == NULL || (stored = cJSON_Parse(stored_text)) == NULL || !cJSON_IsObject(stored))
        status = error_set(error, LOUPE_ERROR_FORMAT, "%s: __metadata__ %s is not a JSON object", name, key);
    else if ((expected = cJSON_Parse(expected_text)) == NULL)
        status = error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", name);
    const cJSON *member = NULL;
    if (status == LOUPE_OK) {
        cJSON_ArrayForEach(member, expected) {
            const cJSON *found = cJSON_GetObjectItemCaseSensitive(stored, member->string);
            if (found != NULL && cJSON_Compare(found, member, true)) continue;
            char theirs[96], ours[96];
            describe(found, theirs, sizeof theirs);
            describe(member, ours, sizeof ours);
            status = error_set(error, LOUPE_ERROR_ARGUMENT, "%s: %s %s %s, this %s %s (__metadata__ %s)", name, noun,
                               member->string, theirs, what, ours, key);
            break;
        }
    }
    cJSON_Delete(stored);
    cJSON_Delete(expected);
    return status;
}

/* Checks the metadata; fills *step and *data_position. */
static loupe_status check_metadata(const uint8_t *bytes, const char *name, const finetune_checkpoint_run *run,
                                   int *step, int64_t *data_position, loupe_error *error) {
    /* safetensors_parse has checked that the header's length and JSON are sound */
    uint64_t length = 0;
    for (int i = 0; i < 8; i++) length |= (uint64_t)bytes[i] << (8 * i);
    cJSON *header = NULL;
    loupe_status status = json_parse((const char *)bytes + 8, (size_t)length, name, &header, error);
    if (status != LOUPE_OK) return status;
    const cJSON *metadata = cJSON_GetObjectItemCaseSensitive(header, "__metadata__");
    const char *kind = json_string_member(metadata, "loupe.kind");
    int64_t step_value = 0, position = 0;
    if (kind == NULL || strcmp(kind, FINETUNE_CHECKPOINT_KIND) != 0) {
        status = error_set(error, LOUPE_ERROR_FORMAT,
                           "%s: not a loupe finetune checkpoint (its __metadata__ loupe.kind is not \"%s\")", name,
                           FINETUNE_CHECKPOINT_KIND);
    } else if (!parse_count(json_string_member(metadata, "loupe.step"), INT32_MAX, &step_value)) {
        status = error_set(error, LOUPE_ERROR_FORMAT, "%s: __metadata__ loupe.step is not a whole number", name);
    } else if (step_value > run->max_step) {
        status = error_set(error, LOUPE_ERROR_FORMAT, "%s: __metadata__ loupe.step %" PRId64
                           " is beyond the run's %d steps", name, step_value, run->max_step);
    } else if (!parse_count(json_string_member(metadata, "loupe.data_position"), INT64_MAX, &position)) {
        status = error_set(error, LOUPE_ERROR_FORMAT, "%s: __metadata__ loupe.data_position is not a whole number",
                           name);
    }
    if (status == LOUPE_OK)
        status = check_members(name, "loupe.model", json_string_member(metadata, "loupe.model"), run->model_json,
                               "a checkpoint of another model:", "model's", error);
    if (status == LOUPE_OK)
        status = check_members(name, "loupe.settings", json_string_member(metadata, "loupe.settings"),
                               run->settings_json, "a checkpoint of a run with", "run's", error);
    cJSON_Delete(header);
    if (status == LOUPE_OK) *step = (int)step_value, *data_position = position;
    return status;
}

/* Checks that the file's tensors are exactly the layout's three per
 * parameter, each F32 of the parameter's shape; fills views (3 n_tensors). */
static loupe_status check_tensors(const safetensors_file *file, const char *name, const train_parameters *layout,
                                  const tensor_view **views, loupe_error *error) {
    for (size_t i = 0; i < layout->n_tensors; i++) {
        const train_tensor *t = &layout->tensors[i];
        for (int part = 0; part < 3; part++) {
            char *wanted = part_name(part, t->name);
            if (wanted == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", name);
            const tensor_view *view = safetensors_find(file, wanted);
            bool same_shape = view != NULL && view->n_dims == t->n_dims;
            for (int d = 0; same_shape && d < t->n_dims; d++) same_shape = view->shape[d] == t->shape[d];
            loupe_status status = LOUPE_OK;
            if (view == NULL) {
                status = error_set(error, LOUPE_ERROR_FORMAT,
                                   "%s: tensor '%s' missing (a checkpoint of this model has %zu tensors)", name,
                                   wanted, 3 * layout->n_tensors);
            } else if (view->dtype != TENSOR_DTYPE_F32 || !same_shape) {
                char found[96], expected[96];
                tensor_shape_format(view->n_dims, view->shape, found, sizeof found);
                tensor_shape_format(t->n_dims, t->shape, expected, sizeof expected);
                status = error_set(error, LOUPE_ERROR_FORMAT, "%s: tensor '%s' is %s %s, this model's is F32 %s", name,
                                   wanted, tensor_dtype_name(view->dtype), found, expected);
            }
            free(wanted);
            if (status != LOUPE_OK) return status;
            views[3 * i + (size_t)part] = view;
        }
    }
    if (file->n_tensors != 3 * layout->n_tensors) {
        /* every wanted one is there, so some other one is too: name the first */
        for (size_t k = 0; k < file->n_tensors; k++) {
            bool wanted = false;
            for (size_t j = 0; !wanted && j < 3 * layout->n_tensors; j++) wanted = views[j] == &file->tensors[k];
            if (!wanted)
                return error_set(error, LOUPE_ERROR_FORMAT,
                                 "%s: tensor '%s' is not part of a checkpoint of this model", name,
                                 file->tensors[k].name);
        }
    }
    return LOUPE_OK;
}

loupe_status finetune_checkpoint_parse(const uint8_t *bytes, size_t size, const char *name,
                                       const finetune_checkpoint_run *run, float *values, float *exp_avg,
                                       float *exp_avg_sq, int *step, int64_t *data_position, loupe_error *error) {
    error_clear(error);
    safetensors_file file;
    loupe_status status = safetensors_parse(bytes, size, name, &file, error);
    if (status != LOUPE_OK) return status;
    int step_value = 0;
    int64_t position = 0;
    const size_t n_views = 3 * run->layout->n_tensors;
    const tensor_view **views = calloc(n_views > 0 ? n_views : 1, sizeof *views);
    if (views == NULL) status = error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", name);
    if (status == LOUPE_OK) status = check_metadata(bytes, name, run, &step_value, &position, error);
    if (status == LOUPE_OK) status = check_tensors(&file, name, run->layout, views, error);
    float *targets[3] = {values, exp_avg, exp_avg_sq};
    for (size_t i = 0; status == LOUPE_OK && i < run->layout->n_tensors; i++)
        for (int part = 0; status == LOUPE_OK && part < 3; part++)
            status = tensor_to_f32(views[3 * i + (size_t)part], targets[part] + run->layout->tensors[i].offset, error);
    if (status == LOUPE_OK) *step = step_value, *data_position = position;
    free(views);
    safetensors_close(&file);
    return status;
}

loupe_status finetune_checkpoint_read(const char *path, const finetune_checkpoint_run *run, float *values,
                                      float *exp_avg, float *exp_avg_sq, int *step, int64_t *data_position,
                                      loupe_error *error) {
    error_clear(error);
    file_map map;
    loupe_status status = file_map_open(path, &map, error);
    if (status != LOUPE_OK) return status;
    status = finetune_checkpoint_parse(map.data, map.size, path, run, values, exp_avg, exp_avg_sq, step,
                                       data_position, error);
    file_map_close(&map);
    return status;
}
