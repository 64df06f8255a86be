/*
 * model_folder.c - writing a fine-tuned model's folder (model_folder.h).
 */
#include "train/model_folder.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "io/json.h"
#include "io/safetensors.h"
#include "io/safetensors_write.h"
#include "model/model.h"
#include "util/error.h"
#include "util/file_map.h"
#include "util/file_replace.h"

/* The files of a model folder besides the weights and config.json that
 * loaders read: the tokenizer's and the generation defaults. */
static const char *const copied_files[] = {"vocab.json",           "merges.txt",
                                           "tokenizer.json",       "tokenizer_config.json",
                                           "special_tokens_map.json", "added_tokens.json",
                                           "generation_config.json"};

/* The weights files a folder of another model may hold. */
static const char *const weight_files[] = {"model.safetensors.index.json", "pytorch_model.bin",
                                           "pytorch_model.bin.index.json"};

/* Bigger config and tokenizer files than this are not copied. */
enum { MODEL_FOLDER_MAX_COPIED_BYTES = 1 << 30 };

/* Whether path is a safetensors file whose __metadata__ marks it as ours. */
static bool written_here(const char *path) {
    safetensors_file file;
    loupe_error ignored;
    if (safetensors_open(path, &file, &ignored) != LOUPE_OK) return false;
    cJSON *header = NULL;
    bool ours = false;
    if (safetensors_header_json(&file, &header, &ignored) == LOUPE_OK) {
        const char *writer =
            json_string_member(cJSON_GetObjectItemCaseSensitive(header, "__metadata__"), MODEL_FOLDER_WRITER_KEY);
        ours = writer != NULL && strcmp(writer, MODEL_FOLDER_WRITER) == 0;
    }
    cJSON_Delete(header);
    safetensors_close(&file);
    return ours;
}

/* LOUPE_OK when directory may be written: it holds no model, or one
 * written here. */
static loupe_status check_directory(const char *directory, loupe_error *error) {
    const char *found = NULL;
    char *weights = path_join(directory, "model.safetensors"), *config = path_join(directory, "config.json");
    if (weights == NULL || config == NULL) {
        free(weights), free(config);
        return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", directory);
    }
    bool ours = path_is_file(weights) && written_here(weights);
    if (path_is_file(weights) && !ours) found = "model.safetensors";
    else if (!ours && path_is_file(config)) found = "config.json";
    for (size_t i = 0; found == NULL && i < sizeof weight_files / sizeof weight_files[0]; i++) {
        char *path = path_join(directory, weight_files[i]);
        if (path != NULL && path_is_file(path)) found = weight_files[i];
        free(path);
    }
    free(weights), free(config);
    if (found != NULL)
        return error_set(error, LOUPE_ERROR_ARGUMENT,
                         "%s: holds a model that loupe finetune did not write (%s/%s): give another folder",
                         directory, directory, found);
    return LOUPE_OK;
}

/* The safetensors writer's dtype for a tensor copied as stored. */
static bool stored_dtype(tensor_dtype dtype, safetensors_write_dtype *out) {
    switch (dtype) {
    case TENSOR_DTYPE_I64: *out = SAFETENSORS_WRITE_I64; return true;
    case TENSOR_DTYPE_I32: *out = SAFETENSORS_WRITE_I32; return true;
    case TENSOR_DTYPE_I16: *out = SAFETENSORS_WRITE_I16; return true;
    case TENSOR_DTYPE_I8: *out = SAFETENSORS_WRITE_I8; return true;
    case TENSOR_DTYPE_U8: *out = SAFETENSORS_WRITE_U8; return true;
    case TENSOR_DTYPE_BOOL: *out = SAFETENSORS_WRITE_BOOL; return true;
    default: return false;
    }
}

/* model.safetensors: the checkpoint's tensors in order, floats from params. */
static loupe_status write_weights(const loupe_model *model, const train_parameters *params, const char *path,
                                  loupe_error *error) {
    const checkpoint *ckpt = &model->weights_file;
    size_t n = 0;
    for (size_t f = 0; f < ckpt->n_files; f++) n += ckpt->files[f].n_tensors;
    safetensors_typed_entry *entries = calloc(n > 0 ? n : 1, sizeof *entries);
    if (entries == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", path);
    loupe_status status = LOUPE_OK;
    size_t k = 0;
    for (size_t f = 0; status == LOUPE_OK && f < ckpt->n_files; f++) {
        for (size_t i = 0; status == LOUPE_OK && i < ckpt->files[f].n_tensors; i++) {
            const tensor_view *view = &ckpt->files[f].tensors[i];
            safetensors_typed_entry *entry = &entries[k++];
            entry->name = view->name;
            entry->n_dims = view->n_dims;
            if (view->n_dims > SAFETENSORS_WRITE_MAX_DIMS) {
                status = error_set(error, LOUPE_ERROR_UNSUPPORTED, "%s: tensor '%s' has %d dimensions (at most %d)",
                                   view->file, view->name, view->n_dims, SAFETENSORS_WRITE_MAX_DIMS);
                break;
            }
            for (int d = 0; d < view->n_dims; d++) entry->shape[d] = view->shape[d];
            const train_tensor *trained = train_parameters_find(params, view->name);
            if (trained != NULL && strcmp(trained->name, view->name) == 0) {
                entry->dtype = SAFETENSORS_WRITE_F32;
                entry->data = params->values + trained->offset;
            } else if (stored_dtype(view->dtype, &entry->dtype)) {
                entry->data = view->data;
            } else {
                status = error_set(error, LOUPE_ERROR_ARGUMENT, "%s: tensor '%s' (%s) is not among the parameters",
                                   view->file, view->name, tensor_dtype_name(view->dtype));
            }
        }
    }
    const safetensors_metadata metadata[] = {{"format", "pt"}, {MODEL_FOLDER_WRITER_KEY, MODEL_FOLDER_WRITER}};
    if (status == LOUPE_OK) status = safetensors_write_file(path, entries, n, metadata, 2, error);
    free(entries);
    return status;
}

/* config.json: the input's with its dtype float32. */
static loupe_status write_config(const loupe_model *model, const char *path, loupe_error *error) {
    char *source = path_join(model->directory, "config.json");
    if (source == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", path);
    cJSON *config = NULL;
    loupe_status status = json_parse_file(source, MODEL_FOLDER_MAX_COPIED_BYTES, &config, error);
    free(source);
    if (status != LOUPE_OK) return status;
    bool set = false, ok = cJSON_IsObject(config);
    static const char *const keys[] = {"torch_dtype", "dtype"};
    for (int i = 0; ok && i < 2; i++) {
        if (cJSON_GetObjectItemCaseSensitive(config, keys[i]) == NULL) continue;
        ok = cJSON_ReplaceItemInObjectCaseSensitive(config, keys[i], cJSON_CreateString("float32"));
        set = true;
    }
    if (ok && !set) ok = cJSON_AddStringToObject(config, "torch_dtype", "float32") != NULL;
    char *text = ok ? cJSON_Print(config) : NULL;
    cJSON_Delete(config);
    if (text == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", path);
    size_t length = strlen(text);
    char *line = realloc(text, length + 2);
    if (line == NULL) {
        free(text);
        return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", path);
    }
    line[length] = '\n', line[length + 1] = '\0';
    status = file_replace_bytes(path, line, length + 1, error);
    free(line);
    return status;
}

/* Copies from/name to to/name when it exists. */
static loupe_status copy_if_present(const char *from, const char *to, const char *name, loupe_error *error) {
    char *source = path_join(from, name), *target = path_join(to, name);
    loupe_status status = LOUPE_OK;
    if (source == NULL || target == NULL) {
        status = error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", to);
    } else if (path_is_file(source)) {
        char *data = NULL;
        size_t size = 0;
        status = file_read_all(source, MODEL_FOLDER_MAX_COPIED_BYTES, &data, &size, error);
        if (status == LOUPE_OK) status = file_replace_bytes(target, data, size, error);
        free(data);
    }
    free(source), free(target);
    return status;
}

loupe_status model_folder_write(const loupe_model *model, const train_parameters *params, const char *directory,
                                const char *training_json, loupe_error *error) {
    if (mkdir(directory, 0777) != 0 && errno != EEXIST)
        return error_set(error, LOUPE_ERROR_IO, "%s: cannot create the folder: %s", directory, strerror(errno));
    loupe_status status = directory_check(directory, error);
    if (status == LOUPE_OK) status = check_directory(directory, error);
    if (status != LOUPE_OK) return status;
    char *weights = path_join(directory, "model.safetensors"), *config = path_join(directory, "config.json");
    char *training = path_join(directory, "training.json");
    if (weights == NULL || config == NULL || training == NULL)
        status = error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", directory);
    if (status == LOUPE_OK) status = write_weights(model, params, weights, error);
    if (status == LOUPE_OK) status = write_config(model, config, error);
    for (size_t i = 0; status == LOUPE_OK && i < sizeof copied_files / sizeof copied_files[0]; i++)
        status = copy_if_present(model->directory, directory, copied_files[i], error);
    if (status == LOUPE_OK && training_json != NULL)
        status = file_replace_bytes(training, training_json, strlen(training_json), error);
    free(weights), free(config), free(training);
    return status;
}
