/*
 * torch_archive.c - a PyTorch archive's state dict (torch_archive.h).
 */
#include "tuned/torch_archive.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "tuned/torch_pickle.h"
#include "util/error.h"
#include "util/file_map.h"

/* ------------------------------------------------------------------------
 * Records of the zip
 * ---------------------------------------------------------------------- */

typedef struct zip_reader {
    zip_t *zip;
    const char *name; /* for messages */
    char prefix[256]; /* "params/": the folder holding data.pkl */
    loupe_error *error;
} zip_reader;

/* Reads the record called record_name into a new buffer (caller frees):
 * *size_out bytes. Missing: LOUPE_ERROR_FORMAT naming it. */
static loupe_status read_record(zip_reader *reader, const char *record_name, uint64_t max_bytes, uint8_t **data_out,
                                size_t *size_out) {
    *data_out = NULL;
    *size_out = 0;
    zip_int64_t index = zip_name_locate(reader->zip, record_name, 0);
    if (index < 0)
        return error_set(reader->error, LOUPE_ERROR_FORMAT, "%s: record %s missing from the archive", reader->name,
                         record_name);
    zip_stat_t stat;
    zip_stat_init(&stat);
    if (zip_stat_index(reader->zip, (zip_uint64_t)index, 0, &stat) != 0 || !(stat.valid & ZIP_STAT_SIZE) ||
        !(stat.valid & ZIP_STAT_COMP_SIZE))
        return error_set(reader->error, LOUPE_ERROR_FORMAT, "%s: record %s: no size in the zip directory",
                         reader->name, record_name);
    if (stat.size > max_bytes)
        return error_set(reader->error, LOUPE_ERROR_LIMIT, "%s: record %s is %llu bytes, above the limit of %llu",
                         reader->name, record_name, (unsigned long long)stat.size, (unsigned long long)max_bytes);
    if (stat.size / 1032 > stat.comp_size)
        return error_set(reader->error, LOUPE_ERROR_FORMAT,
                         "%s: record %s claims %llu bytes from %llu compressed, more than deflate can give",
                         reader->name, record_name, (unsigned long long)stat.size, (unsigned long long)stat.comp_size);
    uint8_t *data = malloc(stat.size ? (size_t)stat.size : 1);
    if (data == NULL) return error_set(reader->error, LOUPE_ERROR_MEMORY, "%s: out of memory", reader->name);
    zip_file_t *file = zip_fopen_index(reader->zip, (zip_uint64_t)index, 0);
    zip_int64_t got = -1;
    if (file != NULL) {
        got = stat.size ? zip_fread(file, data, stat.size) : 0;
        /* one byte more than the directory says is an inconsistency too */
        uint8_t extra;
        if (got == (zip_int64_t)stat.size && zip_fread(file, &extra, 1) != 0) got = -1;
    }
    const char *reason = file ? zip_file_strerror(file) : zip_strerror(reader->zip);
    loupe_status status = LOUPE_OK;
    if (got != (zip_int64_t)stat.size)
        status = error_set(reader->error, LOUPE_ERROR_FORMAT, "%s: record %s cannot be read: %s", reader->name,
                           record_name, got >= 0 ? "shorter than the zip directory says" : reason);
    if (file != NULL) zip_fclose(file);
    if (status != LOUPE_OK) {
        free(data);
        return status;
    }
    *data_out = data;
    *size_out = (size_t)stat.size;
    return LOUPE_OK;
}

/* Finds the one record PREFIX/data.pkl with PREFIX a single folder name. */
static loupe_status find_prefix(zip_reader *reader) {
    zip_int64_t n = zip_get_num_entries(reader->zip, 0);
    int found = 0;
    for (zip_int64_t i = 0; i < n; i++) {
        const char *entry = zip_get_name(reader->zip, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
        if (entry == NULL) continue;
        const char *slash = strchr(entry, '/');
        if (slash == NULL || slash == entry || strcmp(slash + 1, "data.pkl") != 0) continue;
        size_t length = (size_t)(slash - entry) + 1;
        if (length >= sizeof reader->prefix)
            return error_set(reader->error, LOUPE_ERROR_FORMAT, "%s: the archive's folder name is too long",
                             reader->name);
        memcpy(reader->prefix, entry, length);
        reader->prefix[length] = '\0';
        found++;
    }
    if (found != 1)
        return error_set(reader->error, LOUPE_ERROR_FORMAT, "%s: %s FOLDER/data.pkl record in the archive",
                         reader->name, found ? "more than one" : "no");
    return LOUPE_OK;
}

/* PREFIX/byteorder, when the archive has one, must say "little". */
static loupe_status check_byteorder(zip_reader *reader) {
    char record_name[300];
    snprintf(record_name, sizeof record_name, "%sbyteorder", reader->prefix);
    if (zip_name_locate(reader->zip, record_name, 0) < 0) return LOUPE_OK;
    uint8_t *data = NULL;
    size_t size = 0;
    loupe_status status = read_record(reader, record_name, 64, &data, &size);
    if (status == LOUPE_OK && !(size == 6 && memcmp(data, "little", 6) == 0))
        status = error_set(reader->error, LOUPE_ERROR_UNSUPPORTED, "%s: a big-endian archive (%s is not \"little\")",
                           reader->name, record_name);
    free(data);
    return status;
}

/* ------------------------------------------------------------------------
 * Tensors against their storages
 * ---------------------------------------------------------------------- */

/* Checks a tensor's view of its storage: shapes and strides positive and
 * contiguous (row-major), the elements inside the storage. *n_elements is
 * the tensor's element count. */
static loupe_status check_view(const torch_pickle_tensor *tensor, const char *name, int64_t *n_elements,
                               loupe_error *error) {
    int64_t count = 1, expected_stride = 1;
    for (int d = tensor->n_dims - 1; d >= 0; d--) {
        if (tensor->shape[d] < 0 || tensor->shape[d] > (INT64_C(1) << 40))
            return error_set(error, LOUPE_ERROR_FORMAT, "%s: tensor '%s': dimension %d is %lld", name, tensor->name, d,
                             (long long)tensor->shape[d]);
        if (tensor->shape[d] != 1 && tensor->stride[d] != expected_stride)
            return error_set(error, LOUPE_ERROR_UNSUPPORTED,
                             "%s: tensor '%s' is not contiguous (stride %lld in dimension %d, expected %lld)", name,
                             tensor->name, (long long)tensor->stride[d], d, (long long)expected_stride);
        if (tensor->shape[d] != 0 && count > (INT64_C(1) << 40) / tensor->shape[d])
            return error_set(error, LOUPE_ERROR_LIMIT, "%s: tensor '%s' has too many elements", name, tensor->name);
        count *= tensor->shape[d];
        expected_stride = count;
    }
    if (tensor->offset > tensor->storage_numel || count > tensor->storage_numel - tensor->offset)
        return error_set(error, LOUPE_ERROR_FORMAT,
                         "%s: tensor '%s': elements %lld .. %lld run past its storage of %lld", name, tensor->name,
                         (long long)tensor->offset, (long long)(tensor->offset + count), (long long)tensor->storage_numel);
    *n_elements = count;
    return LOUPE_OK;
}

/* The storage record of key, read once: the index of an earlier tensor
 * with the same key (whose storage is in archive->storages at the same
 * slot), else read now. */
static loupe_status bind_storage(zip_reader *reader, torch_archive *archive, const torch_pickle_tensor *tensors,
                                 size_t k, uint8_t **storage_out) {
    const torch_pickle_tensor *tensor = &tensors[k];
    for (size_t j = 0; j < k; j++)
        if (strcmp(tensors[j].storage_key, tensor->storage_key) == 0) {
            if (tensors[j].dtype != tensor->dtype || tensors[j].storage_numel != tensor->storage_numel)
                return error_set(reader->error, LOUPE_ERROR_FORMAT,
                                 "%s: storage %s is described two different ways", reader->name, tensor->storage_key);
            *storage_out = archive->storages[j];
            archive->storages[k] = NULL; /* owned by slot j */
            return LOUPE_OK;
        }
    char record_name[400];
    snprintf(record_name, sizeof record_name, "%sdata/%s", reader->prefix, tensor->storage_key);
    size_t element = tensor_dtype_size(tensor->dtype);
    uint64_t expected = (uint64_t)tensor->storage_numel * element; /* numel below 2^40 or the size check fails */
    uint8_t *data = NULL;
    size_t size = 0;
    loupe_status status = read_record(reader, record_name, TORCH_ARCHIVE_MAX_RECORD, &data, &size);
    if (status != LOUPE_OK) return status;
    if ((uint64_t)tensor->storage_numel > (UINT64_C(1) << 40) || size != expected) {
        free(data);
        return error_set(reader->error, LOUPE_ERROR_FORMAT,
                         "%s: record %s is %zu bytes, but its storage of %lld %s elements needs %llu", reader->name,
                         record_name, size, (long long)tensor->storage_numel, tensor_dtype_name(tensor->dtype),
                         (unsigned long long)expected);
    }
    archive->storages[k] = data;
    *storage_out = data;
    return LOUPE_OK;
}

static loupe_status build_tensors(zip_reader *reader, torch_archive *archive, torch_pickle_tensor *tensors, size_t n) {
    archive->tensors = calloc(n ? n : 1, sizeof *archive->tensors);
    archive->storages = calloc(n ? n : 1, sizeof *archive->storages);
    if (archive->tensors == NULL || archive->storages == NULL)
        return error_set(reader->error, LOUPE_ERROR_MEMORY, "%s: out of memory", reader->name);
    archive->n_storages = n;
    for (size_t k = 0; k < n; k++) {
        torch_pickle_tensor *tensor = &tensors[k];
        int64_t n_elements = 0;
        uint8_t *storage = NULL;
        loupe_status status = check_view(tensor, reader->name, &n_elements, reader->error);
        if (status == LOUPE_OK) status = bind_storage(reader, archive, tensors, k, &storage);
        if (status != LOUPE_OK) return status;
        tensor_view *view = &archive->tensors[archive->n_tensors++];
        size_t element = tensor_dtype_size(tensor->dtype);
        view->name = tensor->name;
        tensor->name = NULL; /* now the archive's */
        view->dtype = tensor->dtype;
        view->n_dims = tensor->n_dims;
        memcpy(view->shape, tensor->shape, sizeof view->shape);
        view->n_elements = n_elements;
        view->data = storage + (size_t)tensor->offset * element;
        view->n_bytes = (size_t)n_elements * element;
        view->file = NULL;
    }
    return LOUPE_OK;
}

loupe_status torch_archive_parse(const uint8_t *bytes, size_t size, const char *name, torch_archive *archive,
                                 loupe_error *error) {
    memset(archive, 0, sizeof *archive);
    loupe_error local; /* the readers return the status they set */
    if (error == NULL) error = &local;
    zip_error_t zip_error;
    zip_error_init(&zip_error);
    zip_source_t *source = zip_source_buffer_create(bytes, size, 0, &zip_error);
    zip_t *zip = source ? zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &zip_error) : NULL;
    if (zip == NULL) {
        loupe_status status = error_set(error, LOUPE_ERROR_FORMAT,
                                        "%s: not a PyTorch zip archive (%s); loupe does not read the legacy "
                                        "format of torch.save before PyTorch 1.6",
                                        name, zip_error_strerror(&zip_error));
        if (source != NULL) zip_source_free(source);
        zip_error_fini(&zip_error);
        return status;
    }
    zip_error_fini(&zip_error);
    zip_reader reader = {.zip = zip, .name = name, .error = error};
    uint8_t *pickle = NULL;
    size_t pickle_size = 0;
    torch_pickle_tensor *tensors = NULL;
    size_t n_tensors = 0;
    char record_name[300];
    loupe_status status = find_prefix(&reader);
    if (status == LOUPE_OK) status = check_byteorder(&reader);
    if (status == LOUPE_OK) {
        snprintf(record_name, sizeof record_name, "%sdata.pkl", reader.prefix);
        status = read_record(&reader, record_name, TORCH_PICKLE_MAX_BYTES, &pickle, &pickle_size);
    }
    if (status == LOUPE_OK) {
        char pickle_name[1200];
        snprintf(pickle_name, sizeof pickle_name, "%s: %s", name, record_name);
        status = torch_pickle_read(pickle, pickle_size, pickle_name, &tensors, &n_tensors, error);
    }
    if (status == LOUPE_OK) status = build_tensors(&reader, archive, tensors, n_tensors);
    torch_pickle_free(tensors, n_tensors);
    free(pickle);
    zip_discard(zip);
    if (status != LOUPE_OK) torch_archive_close(archive);
    return status;
}

loupe_status torch_archive_open(const char *path, torch_archive *archive, loupe_error *error) {
    memset(archive, 0, sizeof *archive);
    file_map map;
    loupe_status status = file_map_open(path, &map, error);
    if (status != LOUPE_OK) return status;
    status = torch_archive_parse(map.data, map.size, path, archive, error);
    file_map_close(&map);
    return status;
}

void torch_archive_close(torch_archive *archive) {
    for (size_t i = 0; i < archive->n_tensors; i++) free(archive->tensors[i].name);
    for (size_t i = 0; i < archive->n_storages; i++) free(archive->storages[i]);
    free(archive->tensors);
    free(archive->storages);
    memset(archive, 0, sizeof *archive);
}
