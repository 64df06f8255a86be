/*
 * safetensors_write.c - one safetensors file from tensors in memory
 * (safetensors_write.h). The header is built with cJSON, which escapes
 * every name and metadata string.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "io/safetensors_write.h"
#include "util/error.h"
#include "util/file_replace.h"

/* The safetensors spelling of a dtype and its bytes per element. */
static const struct {
    const char *name;
    size_t size;
} dtypes[] = {[SAFETENSORS_WRITE_F32] = {"F32", 4}, [SAFETENSORS_WRITE_I32] = {"I32", 4},
              [SAFETENSORS_WRITE_I64] = {"I64", 8}, [SAFETENSORS_WRITE_I16] = {"I16", 2},
              [SAFETENSORS_WRITE_I8] = {"I8", 1},   [SAFETENSORS_WRITE_U8] = {"U8", 1},
              [SAFETENSORS_WRITE_BOOL] = {"BOOL", 1}};
static const char *dtype_name(safetensors_write_dtype dtype) { return dtypes[dtype].name; }
static size_t dtype_size(safetensors_write_dtype dtype) { return dtypes[dtype].size; }

/* The header object, or NULL when out of memory; *data_bytes receives the
 * size of the data section. */
static cJSON *build_header(const safetensors_typed_entry *entries, size_t n, const safetensors_metadata *metadata,
                           size_t n_metadata, size_t *data_bytes) {
    cJSON *header = cJSON_CreateObject();
    bool ok = header != NULL;
    if (ok && n_metadata > 0) {
        cJSON *map = cJSON_AddObjectToObject(header, "__metadata__");
        ok = map != NULL;
        for (size_t i = 0; ok && i < n_metadata; i++)
            ok = cJSON_AddStringToObject(map, metadata[i].key, metadata[i].value) != NULL;
    }
    size_t offset = 0;
    for (size_t i = 0; ok && i < n; i++) {
        cJSON *tensor = cJSON_AddObjectToObject(header, entries[i].name);
        cJSON *shape = tensor ? cJSON_AddArrayToObject(tensor, "shape") : NULL;
        cJSON *offsets = tensor ? cJSON_AddArrayToObject(tensor, "data_offsets") : NULL;
        ok = shape && offsets && cJSON_AddStringToObject(tensor, "dtype", dtype_name(entries[i].dtype));
        size_t elements = 1;
        for (int d = 0; ok && d < entries[i].n_dims; d++) {
            elements *= (size_t)entries[i].shape[d];
            ok = cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)entries[i].shape[d]));
        }
        size_t end = offset + elements * dtype_size(entries[i].dtype);
        ok = ok && cJSON_AddItemToArray(offsets, cJSON_CreateNumber((double)offset)) &&
             cJSON_AddItemToArray(offsets, cJSON_CreateNumber((double)end));
        offset = end;
    }
    *data_bytes = offset;
    if (!ok) {
        cJSON_Delete(header);
        return NULL;
    }
    return header;
}

loupe_status safetensors_write_typed(FILE *out, const char *name, const safetensors_typed_entry *entries, size_t n,
                                     const safetensors_metadata *metadata, size_t n_metadata, loupe_error *error) {
    for (size_t i = 0; i < n; i++) {
        if (entries[i].n_dims < 0 || entries[i].n_dims > SAFETENSORS_WRITE_MAX_DIMS)
            return error_set(error, LOUPE_ERROR_ARGUMENT, "%s: tensor %s has %d dimensions", name, entries[i].name,
                             entries[i].n_dims);
        for (int d = 0; d < entries[i].n_dims; d++)
            if (entries[i].shape[d] < 0)
                return error_set(error, LOUPE_ERROR_ARGUMENT, "%s: tensor %s has a negative extent", name,
                                 entries[i].name);
    }
    size_t data_bytes = 0;
    cJSON *header = build_header(entries, n, metadata, n_metadata, &data_bytes);
    char *text = header ? cJSON_PrintUnformatted(header) : NULL;
    cJSON_Delete(header);
    if (text == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory for the header", name);
    size_t length = strlen(text), padded = (length + 7) / 8 * 8;
    unsigned char length_bytes[8];
    for (int b = 0; b < 8; b++) length_bytes[b] = (unsigned char)((uint64_t)padded >> (8 * b));
    bool ok = fwrite(length_bytes, 1, 8, out) == 8 && fwrite(text, 1, length, out) == length;
    for (size_t i = length; ok && i < padded; i++) ok = fputc(' ', out) != EOF;
    free(text);
    for (size_t i = 0; ok && i < n; i++) {
        size_t elements = 1;
        for (int d = 0; d < entries[i].n_dims; d++) elements *= (size_t)entries[i].shape[d];
        ok = elements == 0 || fwrite(entries[i].data, dtype_size(entries[i].dtype), elements, out) == elements;
    }
    if (!ok) return error_set(error, LOUPE_ERROR_IO, "%s: writing the file failed", name);
    return LOUPE_OK;
}

/* What safetensors_write_file hands to file_replace. */
typedef struct safetensors_job {
    const char *path;
    const safetensors_typed_entry *entries; /* (n) */
    size_t n;
    const safetensors_metadata *metadata; /* (n_metadata) */
    size_t n_metadata;
} safetensors_job;

static loupe_status write_job(FILE *out, const void *context, loupe_error *error) {
    const safetensors_job *job = context;
    return safetensors_write_typed(out, job->path, job->entries, job->n, job->metadata, job->n_metadata, error);
}

loupe_status safetensors_write_file(const char *path, const safetensors_typed_entry *entries, size_t n,
                                    const safetensors_metadata *metadata, size_t n_metadata, loupe_error *error) {
    safetensors_job job = {path, entries, n, metadata, n_metadata};
    return file_replace(path, write_job, &job, error);
}
