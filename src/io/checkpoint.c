/*
 * checkpoint.c - opens a model folder's weights, single file or sharded, and
 * binds named tensors as float32 (see checkpoint.h).
 */
#define _DEFAULT_SOURCE /* madvise, MADV_HUGEPAGE */
#include "io/checkpoint.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>

#include "io/json.h"
#include "util/error.h"

#define SINGLE_FILE_NAME "model.safetensors"
#define INDEX_FILE_NAME "model.safetensors.index.json"
#define PYTORCH_FILE_NAME "pytorch_model.bin" /* what older Hugging Face models ship instead */
#define TRANSFORMER_PREFIX "transformer."

/* ------------------------------------------------------------------------
 * Opening
 * ---------------------------------------------------------------------- */

/* A shard name must be a plain file name inside the folder. */
static int is_plain_file_name(const char *name) {
    return name[0] != '\0' && strchr(name, '/') == NULL && strcmp(name, ".") != 0 &&
           strcmp(name, "..") != 0;
}

/* Opens directory/name as files[*n_files] and counts it. */
static loupe_status open_file_in(const char *directory, const char *name, safetensors_file *files,
                                 size_t *n_files, loupe_error *error) {
    char *path = path_join(directory, name);
    if (path == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", directory);
    loupe_status status = safetensors_open(path, &files[*n_files], error);
    free(path);
    if (status == LOUPE_OK) (*n_files)++;
    return status;
}

/* Pass 1 over the index's weight_map: every value must be a plain file
 * name; numbers the distinct shards 0, 1, ... in order of first mention. */
static loupe_status number_shards(const cJSON *weight_map, const char *index_path,
                                  string_map *shard_of_name, size_t *n_shards, loupe_error *error) {
    *n_shards = 0;
    const cJSON *entry;
    cJSON_ArrayForEach(entry, weight_map) {
        if (!cJSON_IsString(entry))
            return error_set(error, LOUPE_ERROR_FORMAT,
                             "%s: weight_map: tensor '%s' maps to %s, expected a file name", index_path,
                             entry->string, json_type_name(entry));
        const char *shard = entry->valuestring;
        if (!is_plain_file_name(shard))
            return error_set(error, LOUPE_ERROR_FORMAT,
                             "%s: weight_map: tensor '%s' names shard \"%s\", which is not a plain "
                             "file name in the folder",
                             index_path, entry->string, shard);
        int64_t known;
        if (string_map_get(shard_of_name, shard, strlen(shard), &known)) continue;
        if (string_map_put(shard_of_name, shard, strlen(shard), (int64_t)*n_shards) < 0)
            return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", index_path);
        (*n_shards)++;
    }
    if (*n_shards == 0)
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: weight_map lists no tensors", index_path);
    return LOUPE_OK;
}

/* Pass 2: opens each shard at its first mention and checks that every
 * listed tensor is in the shard the index names. */
static loupe_status open_shards(const cJSON *weight_map, const char *index_path,
                                const string_map *shard_of_name, checkpoint *ckpt,
                                loupe_error *error) {
    const cJSON *entry;
    cJSON_ArrayForEach(entry, weight_map) {
        const char *shard = entry->valuestring;
        int64_t file_index = 0;
        string_map_get(shard_of_name, shard, strlen(shard), &file_index); /* numbered in pass 1 */
        if ((size_t)file_index == ckpt->n_files) {
            loupe_status status = open_file_in(ckpt->directory, shard, ckpt->files, &ckpt->n_files, error);
            if (status != LOUPE_OK) return status;
        }
        if (safetensors_find(&ckpt->files[file_index], entry->string) == NULL)
            return error_set(error, LOUPE_ERROR_FORMAT,
                             "%s: weight_map puts tensor '%s' in %s, but that shard has no such tensor",
                             index_path, entry->string, shard);
    }
    return LOUPE_OK;
}

/* Checks a parsed index and numbers its shards; on failure the caller frees
 * *index (root included). */
static loupe_status index_from_root(cJSON *root, const char *index_path, checkpoint_index *index,
                                    loupe_error *error) {
    index->root = root;
    if (!cJSON_IsObject(root))
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: top level is %s, expected an object",
                         index_path, json_type_name(root));
    const cJSON *weight_map = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(weight_map))
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: weight_map is %s, expected an object",
                         index_path, weight_map ? json_type_name(weight_map) : "missing");
    index->weight_map = weight_map;
    if (string_map_init(&index->shard_of_name, 16) != 0)
        return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", index_path);
    return number_shards(weight_map, index_path, &index->shard_of_name, &index->n_shards, error);
}

loupe_status checkpoint_index_parse(const char *text, size_t length, const char *display_name,
                                    checkpoint_index *out, loupe_error *error) {
    memset(out, 0, sizeof *out);
    cJSON *root = NULL;
    loupe_status status = json_parse(text, length, display_name, &root, error);
    if (status == LOUPE_OK) status = index_from_root(root, display_name, out, error);
    if (status != LOUPE_OK) checkpoint_index_free(out);
    return status;
}

void checkpoint_index_free(checkpoint_index *index) {
    if (index == NULL) return;
    cJSON_Delete(index->root);
    string_map_free(&index->shard_of_name);
    memset(index, 0, sizeof *index);
}

/* Reads and checks model.safetensors.index.json, then opens its shards. */
static loupe_status open_index(const char *index_path, checkpoint *ckpt, loupe_error *error) {
    checkpoint_index index;
    memset(&index, 0, sizeof index);
    cJSON *root = NULL;
    loupe_status status = json_parse_file(index_path, CHECKPOINT_MAX_INDEX_BYTES, &root, error);
    if (status == LOUPE_OK) status = index_from_root(root, index_path, &index, error);
    if (status == LOUPE_OK) {
        ckpt->files = calloc(index.n_shards, sizeof *ckpt->files);
        if (ckpt->files == NULL)
            status = error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", index_path);
    }
    if (status == LOUPE_OK)
        status = open_shards(index.weight_map, index_path, &index.shard_of_name, ckpt, error);
    checkpoint_index_free(&index);
    return status;
}

/* No tensor name may appear in two files; also totals the stored bytes. */
static loupe_status check_names_unique(checkpoint *ckpt, loupe_error *error) {
    size_t n_tensors = 0;
    for (size_t f = 0; f < ckpt->n_files; f++) n_tensors += ckpt->files[f].n_tensors;
    string_map file_of_name;
    if (string_map_init(&file_of_name, n_tensors) != 0)
        return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", ckpt->directory);
    loupe_status status = LOUPE_OK;
    ckpt->stored_bytes = 0;
    for (size_t f = 0; f < ckpt->n_files && status == LOUPE_OK; f++) {
        const safetensors_file *file = &ckpt->files[f];
        for (size_t t = 0; t < file->n_tensors; t++) {
            const tensor_view *tensor = &file->tensors[t];
            int64_t earlier;
            size_t name_length = strlen(tensor->name);
            if (string_map_get(&file_of_name, tensor->name, name_length, &earlier)) {
                status = error_set(error, LOUPE_ERROR_FORMAT, "%s: tensor '%s' is also in %s",
                                   file->path, tensor->name, ckpt->files[earlier].path);
                break;
            }
            if (string_map_put(&file_of_name, tensor->name, name_length, (int64_t)f) < 0) {
                status = error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", ckpt->directory);
                break;
            }
            ckpt->stored_bytes += (int64_t)tensor->n_bytes;
        }
    }
    string_map_free(&file_of_name);
    return status;
}

loupe_status checkpoint_open(const char *directory, checkpoint *out, loupe_error *error) {
    memset(out, 0, sizeof *out);
    out->directory = strdup(directory);
    char *single_path = path_join(directory, SINGLE_FILE_NAME);
    char *index_path = path_join(directory, INDEX_FILE_NAME);
    char *pytorch_path = path_join(directory, PYTORCH_FILE_NAME);
    loupe_status status;
    if (out->directory == NULL || single_path == NULL || index_path == NULL) {
        status = error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", directory);
    } else if (path_is_file(single_path)) {
        out->files = calloc(1, sizeof *out->files);
        status = out->files ? open_file_in(directory, SINGLE_FILE_NAME, out->files, &out->n_files, error)
                            : error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", directory);
    } else if (path_is_file(index_path)) {
        status = open_index(index_path, out, error);
    } else if (pytorch_path != NULL && path_is_file(pytorch_path)) {
        status = error_set(error, LOUPE_ERROR_UNSUPPORTED,
                           "%s: only %s found (PyTorch pickle); loupe reads safetensors: convert with python3 -c "
                           "\"import sys, transformers as t; t.AutoModelForCausalLM.from_pretrained(sys.argv[1])"
                           ".save_pretrained(sys.argv[1], safe_serialization=True)\" %s",
                           directory, PYTORCH_FILE_NAME, directory);
    } else {
        status = error_set(error, LOUPE_ERROR_IO, "%s: neither %s nor %s found", directory,
                           SINGLE_FILE_NAME, INDEX_FILE_NAME);
    }
    free(pytorch_path);
    free(single_path);
    free(index_path);
    if (status == LOUPE_OK) status = check_names_unique(out, error);
    if (status != LOUPE_OK) checkpoint_close(out);
    return status;
}

void checkpoint_close(checkpoint *ckpt) {
    if (ckpt == NULL) return;
    for (size_t i = 0; i < ckpt->n_files; i++) safetensors_close(&ckpt->files[i]);
    free(ckpt->files);
    free(ckpt->directory);
    memset(ckpt, 0, sizeof *ckpt);
}

/* ------------------------------------------------------------------------
 * Lookup and binding
 * ---------------------------------------------------------------------- */

static const tensor_view *find_exact(const checkpoint *ckpt, const char *name) {
    for (size_t i = 0; i < ckpt->n_files; i++) {
        const tensor_view *tensor = safetensors_find(&ckpt->files[i], name);
        if (tensor) return tensor;
    }
    return NULL;
}

/* The other spelling of name: "transformer." removed if present, else added.
 * Caller frees; NULL when out of memory. */
static char *alternate_name(const char *name) {
    size_t prefix_length = strlen(TRANSFORMER_PREFIX);
    if (strncmp(name, TRANSFORMER_PREFIX, prefix_length) == 0) return strdup(name + prefix_length);
    size_t length = strlen(name);
    char *added = malloc(prefix_length + length + 1);
    if (added == NULL) return NULL;
    memcpy(added, TRANSFORMER_PREFIX, prefix_length);
    memcpy(added + prefix_length, name, length + 1);
    return added;
}

const tensor_view *checkpoint_find(const checkpoint *ckpt, const char *name) {
    const tensor_view *tensor = find_exact(ckpt, name);
    if (tensor) return tensor;
    char *other = alternate_name(name);
    if (other == NULL) return NULL;
    tensor = find_exact(ckpt, other);
    free(other);
    return tensor;
}

/* 1 on a little-endian machine, where F32 file bytes are usable as floats. */
static int is_little_endian_host(void) {
    const uint16_t probe = 1;
    uint8_t first;
    memcpy(&first, &probe, 1);
    return first == 1;
}

/* A buffer for converted weights (caller frees with free). Large ones are
 * aligned to 2 MB and offered transparent huge pages: converting an F16
 * embedding then takes far fewer page faults. */
static float *allocate_weights(size_t bytes) {
    const size_t huge_page = (size_t)2 << 20;
    if (bytes < huge_page) return malloc(bytes);
    void *memory = NULL;
    if (posix_memalign(&memory, huge_page, bytes) != 0) return NULL;
    madvise(memory, bytes, MADV_HUGEPAGE);
    return memory;
}

/* The tensor `name` (found as by checkpoint_find) if it has exactly the
 * given shape (n_dims dims), else an error naming it. */
static loupe_status find_with_shape(const checkpoint *ckpt, const char *name, int n_dims, const int64_t *shape,
                                    const tensor_view **tensor_out, loupe_error *error) {
    *tensor_out = NULL;
    if (n_dims < 0 || n_dims > TENSOR_MAX_DIMS)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "%s: tensor '%s': %d dims asked, the limit is %d",
                         ckpt->directory, name, n_dims, TENSOR_MAX_DIMS);
    const tensor_view *tensor = checkpoint_find(ckpt, name);
    if (tensor == NULL)
        return error_set(error, LOUPE_ERROR_FORMAT,
                         "%s: tensor '%s' not found (also tried with \"" TRANSFORMER_PREFIX
                         "\" added or removed)",
                         ckpt->directory, name);
    int same_shape = tensor->n_dims == n_dims;
    for (int i = 0; same_shape && i < n_dims; i++) same_shape = tensor->shape[i] == shape[i];
    if (!same_shape) {
        char expected[160], found[160];
        tensor_shape_format(n_dims, shape, expected, sizeof expected);
        tensor_shape_format(tensor->n_dims, tensor->shape, found, sizeof found);
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: tensor '%s': expected shape %s, found %s",
                         tensor->file, tensor->name, expected, found);
    }
    *tensor_out = tensor;
    return LOUPE_OK;
}

/* A float32 copy of tensor in a fresh buffer (caller frees). */
static loupe_status convert_copy(const tensor_view *tensor, float **copy_out, loupe_error *error) {
    *copy_out = NULL;
    size_t n_elements = (size_t)tensor->n_elements;
    if (n_elements > SIZE_MAX / sizeof(float))
        return error_set(error, LOUPE_ERROR_LIMIT, "%s: tensor '%s': too large to convert",
                         tensor->file, tensor->name);
    float *converted = allocate_weights(n_elements ? n_elements * sizeof(float) : 1);
    if (converted == NULL)
        return error_set(error, LOUPE_ERROR_MEMORY, "%s: tensor '%s': out of memory for %zu floats",
                         tensor->file, tensor->name, n_elements);
    loupe_status status = tensor_to_f32(tensor, converted, error);
    if (status != LOUPE_OK) {
        free(converted);
        return status;
    }
    *copy_out = converted;
    return LOUPE_OK;
}

/* 1 when tensor's bytes can be read as floats where they lie. */
static int is_f32_in_place(const tensor_view *tensor) {
    return tensor->dtype == TENSOR_DTYPE_F32 && (uintptr_t)tensor->data % sizeof(float) == 0 &&
           is_little_endian_host();
}

loupe_status checkpoint_bind_f32(const checkpoint *ckpt, const char *name, int n_dims,
                                 const int64_t *shape, const float **data_out, float **owned_out,
                                 loupe_error *error) {
    *data_out = NULL;
    *owned_out = NULL;
    const tensor_view *tensor;
    loupe_status status = find_with_shape(ckpt, name, n_dims, shape, &tensor, error);
    if (status != LOUPE_OK) return status;
    if (is_f32_in_place(tensor)) {
        *data_out = (const float *)(const void *)tensor->data;
        return LOUPE_OK;
    }
    status = convert_copy(tensor, owned_out, error);
    *data_out = *owned_out;
    return status;
}

loupe_status checkpoint_bind_view(const checkpoint *ckpt, const char *name, int64_t rows, int64_t columns,
                                  weight_view *view_out, float **owned_out, loupe_error *error) {
    memset(view_out, 0, sizeof *view_out);
    *owned_out = NULL;
    const int64_t shape[2] = {rows, columns};
    const tensor_view *tensor;
    loupe_status status = find_with_shape(ckpt, name, 2, shape, &tensor, error);
    if (status != LOUPE_OK) return status;
    view_out->rows = rows;
    view_out->columns = columns;
    view_out->data = tensor->data;
    if (tensor->dtype == TENSOR_DTYPE_BF16 || tensor->dtype == TENSOR_DTYPE_F16) {
        view_out->dtype = tensor->dtype == TENSOR_DTYPE_BF16 ? WEIGHT_DTYPE_BF16 : WEIGHT_DTYPE_F16;
        return LOUPE_OK;
    }
    view_out->dtype = WEIGHT_DTYPE_F32;
    if (is_f32_in_place(tensor)) return LOUPE_OK;
    status = convert_copy(tensor, owned_out, error);
    if (status != LOUPE_OK) memset(view_out, 0, sizeof *view_out);
    else view_out->data = *owned_out;
    return status;
}
