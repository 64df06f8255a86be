/*
 * safetensors_write.c - float32 tensors to a safetensors file, atomically
 * (safetensors_write.h).
 */
#include "io/safetensors_write.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/error.h"

loupe_status file_write_atomic(const char *path, const void *data, size_t size, loupe_error *error) {
    size_t length = strlen(path);
    char *temporary = malloc(length + 5);
    if (temporary == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", path);
    memcpy(temporary, path, length);
    memcpy(temporary + length, ".tmp", 5);
    FILE *file = fopen(temporary, "wb");
    loupe_status status = LOUPE_OK;
    if (file == NULL) {
        status = error_set(error, LOUPE_ERROR_IO, "%s: cannot write: %s", temporary, strerror(errno));
    } else {
        bool ok = fwrite(data, 1, size, file) == size && fflush(file) == 0 && fsync(fileno(file)) == 0;
        int saved = errno;
        if (fclose(file) != 0) ok = false;
        if (!ok) status = error_set(error, LOUPE_ERROR_IO, "%s: cannot write: %s", temporary, strerror(saved));
        else if (rename(temporary, path) != 0)
            status = error_set(error, LOUPE_ERROR_IO, "%s: cannot rename to %s: %s", temporary, path, strerror(errno));
        if (status != LOUPE_OK) remove(temporary);
    }
    free(temporary);
    return status;
}

loupe_status safetensors_write_f32(const char *path, const safetensors_entry *entries, size_t n,
                                   const char *const *metadata, size_t n_metadata, loupe_error *error) {
    cJSON *header = cJSON_CreateObject();
    size_t offset = 0;
    bool ok = header != NULL;
    if (ok && n_metadata > 0) {
        cJSON *meta = cJSON_AddObjectToObject(header, "__metadata__");
        for (size_t i = 0; ok && i < n_metadata; i++)
            ok = meta != NULL && cJSON_AddStringToObject(meta, metadata[2 * i], metadata[2 * i + 1]) != NULL;
    }
    for (size_t k = 0; ok && k < n; k++) {
        size_t count = 1;
        cJSON *entry = cJSON_AddObjectToObject(header, entries[k].name), *shape = cJSON_CreateArray(),
              *offsets = cJSON_CreateArray();
        for (int d = 0; d < entries[k].n_dims; d++) {
            count *= (size_t)entries[k].shape[d];
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)entries[k].shape[d]));
        }
        cJSON_AddItemToArray(offsets, cJSON_CreateNumber((double)offset));
        offset += count * sizeof(float);
        cJSON_AddItemToArray(offsets, cJSON_CreateNumber((double)offset));
        ok = entry != NULL && shape != NULL && offsets != NULL && cJSON_AddStringToObject(entry, "dtype", "F32") &&
             cJSON_AddItemToObject(entry, "shape", shape) && cJSON_AddItemToObject(entry, "data_offsets", offsets);
    }
    char *text = ok ? cJSON_PrintUnformatted(header) : NULL;
    cJSON_Delete(header);
    if (text == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", path);
    size_t header_length = strlen(text), total = 8 + header_length + offset;
    uint8_t *bytes = malloc(total);
    if (bytes == NULL) {
        free(text);
        return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", path);
    }
    for (int i = 0; i < 8; i++) bytes[i] = (uint8_t)((uint64_t)header_length >> (8 * i));
    memcpy(bytes + 8, text, header_length);
    free(text);
    uint8_t *at = bytes + 8 + header_length;
    for (size_t k = 0; k < n; k++) {
        size_t count = 1;
        for (int d = 0; d < entries[k].n_dims; d++) count *= (size_t)entries[k].shape[d];
        for (size_t e = 0; e < count; e++) { /* little-endian, whatever the host */
            uint32_t bits;
            memcpy(&bits, &entries[k].data[e], 4);
            for (int b = 0; b < 4; b++) *at++ = (uint8_t)(bits >> (8 * b));
        }
    }
    loupe_status status = file_write_atomic(path, bytes, total, error);
    free(bytes);
    return status;
}
