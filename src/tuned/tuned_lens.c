/*
 * tuned_lens.c - opening a tuned lens folder and applying its translators
 * (tuned_lens.h). The folder is tuned-lens's layout: config.json with the
 * fields of its TunedLensConfig and the state dict of the translators as
 * params.safetensors or params.pt (a PyTorch archive, torch_archive.h).
 */
#include "tuned/tuned_lens.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/config_fields.h"
#include "io/json.h"
#include "kernels/matmul.h"
#include "tuned/torch_archive.h"
#include "tuned/unembedding_hash.h"
#include "util/error.h"
#include "util/file_map.h"

/* Bounds on a lens's config.json before anything is allocated from it. */
enum {
    TUNED_CONFIG_MAX_BYTES = 1 << 20,
    TUNED_MAX_WIDTH = 1 << 16,
    TUNED_MAX_LAYERS = LOUPE_LENS_SAVED_MAX_LAYERS,
    TUNED_MAX_NAME = 4096,
};

static char *copy_string(const char *text) {
    size_t length = strlen(text);
    char *copy = malloc(length + 1);
    if (copy != NULL) memcpy(copy, text, length + 1);
    return copy;
}

loupe_tuned_lens *tuned_lens_create(const char *directory, const char *base_model, int n_layer, int n_embd) {
    loupe_tuned_lens *lens = calloc(1, sizeof *lens);
    if (lens == NULL) return NULL;
    lens->n_layer = n_layer;
    lens->n_embd = n_embd;
    lens->bias = true;
    lens->params_name = "params.safetensors";
    lens->directory = copy_string(directory);
    lens->base_model = copy_string(base_model);
    lens->weights = calloc((size_t)n_layer * n_embd * n_embd, sizeof(float));
    lens->biases = calloc((size_t)n_layer * n_embd, sizeof(float));
    if (!lens->directory || !lens->base_model || !lens->weights || !lens->biases) {
        loupe_tuned_lens_close(lens);
        return NULL;
    }
    return lens;
}

void loupe_tuned_lens_close(loupe_tuned_lens *lens) {
    if (lens == NULL) return;
    free(lens->directory);
    free(lens->base_model);
    free(lens->weights);
    free(lens->biases);
    free(lens);
}

/* ------------------------------------------------------------------------
 * The state dict
 * ---------------------------------------------------------------------- */

/* Parses "{i}.weight" or "{i}.bias" with i a decimal without leading zeros
 * in 0 .. L-1; false for any other name. */
static bool parse_param_name(const char *name, int n_layer, int *layer, bool *is_weight) {
    const char *p = name;
    long index = 0;
    if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] != '.')) return false;
    while (*p >= '0' && *p <= '9') {
        index = index * 10 + (*p++ - '0');
        if (index >= n_layer) return false;
    }
    if (strcmp(p, ".weight") == 0) *is_weight = true;
    else if (strcmp(p, ".bias") == 0) *is_weight = false;
    else return false;
    *layer = (int)index;
    return true;
}

loupe_status tuned_lens_bind_params(loupe_tuned_lens *lens, const tensor_view *tensors, size_t n_tensors,
                                    const char *file, loupe_error *error) {
    const int L = lens->n_layer, C = lens->n_embd;
    unsigned char *seen = calloc((size_t)2 * L, 1); /* (L, 2): weight, bias */
    if (seen == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", file);
    loupe_status status = LOUPE_OK;
    for (size_t k = 0; k < n_tensors && status == LOUPE_OK; k++) {
        const tensor_view *tensor = &tensors[k];
        int layer = 0;
        bool is_weight = false;
        if (!parse_param_name(tensor->name, L, &layer, &is_weight) || (!is_weight && !lens->bias)) {
            status = error_set(error, LOUPE_ERROR_FORMAT,
                               "%s: tensor '%s' is not a translator parameter (expected N.weight%s for N in 0 .. %d)",
                               file, tensor->name, lens->bias ? " and N.bias" : "", L - 1);
            break;
        }
        unsigned char *flag = &seen[2 * layer + (is_weight ? 0 : 1)];
        if (*flag) {
            status = error_set(error, LOUPE_ERROR_FORMAT, "%s: tensor '%s' appears twice", file, tensor->name);
            break;
        }
        *flag = 1;
        int64_t expected[2] = {C, C};
        int n_dims = is_weight ? 2 : 1;
        bool shape_ok = tensor->n_dims == n_dims && tensor->shape[0] == C && (n_dims == 1 || tensor->shape[1] == C);
        if (!shape_ok) {
            char got[96], want[96];
            tensor_shape_format(tensor->n_dims, tensor->shape, got, sizeof got);
            tensor_shape_format(n_dims, expected, want, sizeof want);
            status = error_set(error, LOUPE_ERROR_FORMAT, "%s: tensor '%s' has shape %s, expected %s (d_model %d)", file,
                               tensor->name, got, want, C);
            break;
        }
        float *out = is_weight ? lens->weights + (size_t)layer * C * C : lens->biases + (size_t)layer * C;
        status = tensor_to_f32(tensor, out, error);
    }
    for (int i = 0; i < L && status == LOUPE_OK; i++)
        for (int part = 0; part < (lens->bias ? 2 : 1) && status == LOUPE_OK; part++)
            if (!seen[2 * i + part])
                status = error_set(error, LOUPE_ERROR_FORMAT, "%s: tensor '%d.%s' missing (the lens has %d layers)",
                                   file, i, part == 0 ? "weight" : "bias", L);
    free(seen);
    return status;
}

/* The lens must have been trained through this model's final norm and
 * unembedding: when params.safetensors' __metadata__ names their hash
 * (unembedding_hash.h, written by loupe_tuned_lens_save), it must be the
 * model's. A file without it (a published lens) passes. */
static loupe_status check_unembedding(const safetensors_file *file, const loupe_model *model, loupe_error *error) {
    cJSON *header = NULL;
    loupe_status status = safetensors_header_json(file, &header, error);
    const cJSON *metadata = status == LOUPE_OK ? cJSON_GetObjectItemCaseSensitive(header, "__metadata__") : NULL;
    const char *stored = json_string_member(metadata, TUNED_UNEMBEDDING_KEY);
    char own[TUNED_UNEMBEDDING_HEX];
    if (status == LOUPE_OK && stored != NULL) status = tuned_unembedding_hash(model, own, error);
    if (status == LOUPE_OK && stored != NULL && strcmp(stored, own) != 0)
        status = error_set(error, LOUPE_ERROR_UNSUPPORTED,
                           "%s: the lens was trained on another model's unembedding (its final norm and "
                           "unembedding hash %s, this model's %s)",
                           file->path, stored, own);
    cJSON_Delete(header);
    return status;
}

/* Reads the translators from params.safetensors or params.pt in the lens
 * folder, the first that exists; a params.safetensors must be for model's
 * unembedding (check_unembedding). */
static loupe_status load_params(loupe_tuned_lens *lens, const loupe_model *model, loupe_error *error) {
    char *safetensors_path = path_join(lens->directory, "params.safetensors");
    char *torch_path = path_join(lens->directory, "params.pt");
    loupe_status status = LOUPE_OK;
    if (safetensors_path == NULL || torch_path == NULL) {
        status = error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", lens->directory);
    } else if (path_is_file(safetensors_path)) {
        safetensors_file file;
        memset(&file, 0, sizeof file);
        lens->params_name = "params.safetensors";
        status = safetensors_open(safetensors_path, &file, error);
        if (status == LOUPE_OK) status = check_unembedding(&file, model, error);
        if (status == LOUPE_OK)
            status = tuned_lens_bind_params(lens, file.tensors, file.n_tensors, safetensors_path, error);
        safetensors_close(&file);
    } else if (path_is_file(torch_path)) {
        torch_archive archive;
        lens->params_name = "params.pt";
        status = torch_archive_open(torch_path, &archive, error);
        if (status == LOUPE_OK)
            status = tuned_lens_bind_params(lens, archive.tensors, archive.n_tensors, torch_path, error);
        torch_archive_close(&archive);
    } else {
        status = error_set(error, LOUPE_ERROR_IO, "%s: neither params.safetensors nor params.pt found",
                           lens->directory);
    }
    free(safetensors_path);
    free(torch_path);
    return status;
}

/* ------------------------------------------------------------------------
 * config.json
 * ---------------------------------------------------------------------- */

typedef struct lens_config {
    int d_model, num_hidden_layers;
    bool bias;
    char lens_type[64];
    char base_model[TUNED_MAX_NAME];
} lens_config;

static loupe_status read_config(const char *path, lens_config *config, loupe_error *error) {
    cJSON *root = NULL;
    loupe_status status = json_parse_file(path, TUNED_CONFIG_MAX_BYTES, &root, error);
    if (status != LOUPE_OK) return status;
    if (!cJSON_IsObject(root)) {
        status = error_set(error, LOUPE_ERROR_FORMAT, "%s: is %s, expected a JSON object", path, json_type_name(root));
    } else {
        status = config_read_size(root, "d_model", NULL, TUNED_MAX_WIDTH, path, &config->d_model, error);
        if (status == LOUPE_OK)
            status = config_read_size(root, "num_hidden_layers", NULL, TUNED_MAX_LAYERS, path,
                                      &config->num_hidden_layers, error);
        if (status == LOUPE_OK) status = config_read_bool(root, "bias", true, path, &config->bias, error);
        if (status == LOUPE_OK)
            status = config_read_string(root, "lens_type", "linear_tuned_lens", path, config->lens_type,
                                        sizeof config->lens_type, error);
        if (status == LOUPE_OK)
            status = config_read_string(root, "base_model_name_or_path", "", path, config->base_model,
                                        sizeof config->base_model, error);
        if (status == LOUPE_OK && strcmp(config->lens_type, "linear_tuned_lens") != 0)
            status = error_set(error, LOUPE_ERROR_UNSUPPORTED,
                               "%s: lens_type \"%s\" is not supported (loupe reads linear_tuned_lens)", path,
                               config->lens_type);
    }
    cJSON_Delete(root);
    return status;
}

/* The lens must be for this model: its width and its layer count. */
static loupe_status check_model(const lens_config *config, const char *path, const loupe_model *model,
                                loupe_error *error) {
    loupe_model_info info;
    loupe_model_get_info(model, &info);
    if (config->d_model != info.n_embd || config->num_hidden_layers != info.n_layer)
        return error_set(error, LOUPE_ERROR_UNSUPPORTED,
                         "%s: the lens is for another model: d_model %d and num_hidden_layers %d, but %s has "
                         "n_embd %d and n_layer %d",
                         path, config->d_model, config->num_hidden_layers, info.directory, info.n_embd,
                         info.n_layer);
    return LOUPE_OK;
}

loupe_status loupe_tuned_lens_open(const char *directory, const loupe_model *model, loupe_tuned_lens **lens_out,
                                   loupe_error *error) {
    *lens_out = NULL;
    error_clear(error);
    loupe_status status = directory_check(directory, error);
    if (status != LOUPE_OK) return status;
    char *config_path = path_join(directory, "config.json");
    lens_config *config = calloc(1, sizeof *config);
    if (config_path == NULL || config == NULL) {
        free(config_path);
        free(config);
        return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", directory);
    }
    status = read_config(config_path, config, error);
    if (status == LOUPE_OK) status = check_model(config, config_path, model, error);
    loupe_tuned_lens *lens = NULL;
    if (status == LOUPE_OK) {
        lens = tuned_lens_create(directory, config->base_model, config->num_hidden_layers, config->d_model);
        if (lens == NULL) status = error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", directory);
    }
    if (status == LOUPE_OK) {
        lens->bias = config->bias;
        status = load_params(lens, model, error);
    }
    free(config_path);
    free(config);
    if (status != LOUPE_OK) {
        loupe_tuned_lens_close(lens);
        return status;
    }
    *lens_out = lens;
    return LOUPE_OK;
}

/* ------------------------------------------------------------------------
 * Using it
 * ---------------------------------------------------------------------- */

void loupe_tuned_lens_get_info(const loupe_tuned_lens *lens, loupe_tuned_lens_info *info) {
    info->directory = lens->directory;
    info->base_model = lens->base_model;
    info->params_file = lens->params_name;
    info->n_layer = lens->n_layer;
    info->n_embd = lens->n_embd;
    info->bias = lens->bias;
}

loupe_status loupe_tuned_lens_translate(const loupe_tuned_lens *lens, int layer, const float *residual, int n_rows,
                                        float *translated, loupe_error *error) {
    if (layer < 0 || layer >= lens->n_layer)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "translator %d does not exist (the lens has 0 .. %d)", layer,
                         lens->n_layer - 1);
    if (n_rows < 0) return error_set(error, LOUPE_ERROR_ARGUMENT, "n_rows must be >= 0, not %d", n_rows);
    const int C = lens->n_embd;
    /* translated (N, C) = h + h A^T + b: the product accumulated onto a copy of h */
    memcpy(translated, residual, (size_t)n_rows * C * sizeof(float));
    if (n_rows > 0)
        matmul(translated, residual, lens->weights + (size_t)layer * C * C, lens->biases + (size_t)layer * C, n_rows,
               C, C, MATMUL_WEIGHT_OUT_IN, true);
    return LOUPE_OK;
}
