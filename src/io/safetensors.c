/*
 * safetensors.c - a checked reader of the safetensors format (see
 * safetensors.h): the header is validated in full before any view is handed
 * out, and every message names the file and the tensor or field at fault.
 */
#include "io/safetensors.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/half_convert.h"
#include "io/json.h"
#include "util/error.h"

/* ------------------------------------------------------------------------
 * Dtypes: one table holding the spelling, the element size and the
 * conversion to float32 (NULL for the integer dtypes).
 * ---------------------------------------------------------------------- */

typedef void (*dtype_to_f32_fn)(const uint8_t *bytes, int64_t n_elements, float *out);

typedef struct dtype_info {
    const char *name;
    size_t size;
    dtype_to_f32_fn to_f32;
} dtype_info;

/* Little-endian integers from byte pointers of any alignment. */
static uint32_t read_u32_le(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t read_u64_le(const uint8_t *p) {
    return (uint64_t)read_u32_le(p) | (uint64_t)read_u32_le(p + 4) << 32;
}

/* The float whose IEEE binary32 bit pattern is bits. */
static float float_from_bits(uint32_t bits) {
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

/* The converters: bytes (n_elements x dtype size), little-endian, any
 * alignment -> out (n_elements). F64 rounds to nearest; the others are exact. */
static void f64_to_f32(const uint8_t *bytes, int64_t n_elements, float *out) {
    for (int64_t i = 0; i < n_elements; i++) {
        uint64_t bits = read_u64_le(bytes + 8 * i);
        double value;
        memcpy(&value, &bits, sizeof value);
        out[i] = (float)value;
    }
}

static void f32_to_f32(const uint8_t *bytes, int64_t n_elements, float *out) {
    for (int64_t i = 0; i < n_elements; i++) out[i] = float_from_bits(read_u32_le(bytes + 4 * i));
}

/* Large BF16 tensors are shared among threads, in slices of 64 KiB of out. */
static void bf16_to_f32(const uint8_t *bytes, int64_t n_elements, float *out) {
    enum { SLICE = 1 << 14 };
    int64_t n_slices = (n_elements + SLICE - 1) / SLICE;
#pragma omp parallel for schedule(static) if (n_elements > (1 << 20))
    for (int64_t slice = 0; slice < n_slices; slice++) {
        int64_t begin = slice * SLICE, left = n_elements - begin;
        bfloat16_to_f32(bytes + 2 * begin, left < SLICE ? left : SLICE, out + begin);
    }
}

static const dtype_info dtype_table[] = {
    [TENSOR_DTYPE_F64] = {"F64", 8, f64_to_f32},
    [TENSOR_DTYPE_F32] = {"F32", 4, f32_to_f32},
    [TENSOR_DTYPE_F16] = {"F16", 2, half_to_f32}, /* threaded, F16C where the CPU has it */
    [TENSOR_DTYPE_BF16] = {"BF16", 2, bf16_to_f32},
    [TENSOR_DTYPE_I64] = {"I64", 8, NULL},
    [TENSOR_DTYPE_I32] = {"I32", 4, NULL},
    [TENSOR_DTYPE_I16] = {"I16", 2, NULL},
    [TENSOR_DTYPE_I8] = {"I8", 1, NULL},
    [TENSOR_DTYPE_U8] = {"U8", 1, NULL},
    [TENSOR_DTYPE_BOOL] = {"BOOL", 1, NULL},
};
enum { DTYPE_COUNT = sizeof dtype_table / sizeof dtype_table[0] };

size_t tensor_dtype_size(tensor_dtype dtype) {
    return (unsigned)dtype < DTYPE_COUNT ? dtype_table[dtype].size : 0;
}

const char *tensor_dtype_name(tensor_dtype dtype) {
    return (unsigned)dtype < DTYPE_COUNT ? dtype_table[dtype].name : "?";
}

/* 1 and *dtype_out when name is a known safetensors dtype spelling. */
static int dtype_from_name(const char *name, tensor_dtype *dtype_out) {
    for (int i = 0; i < DTYPE_COUNT; i++) {
        if (strcmp(dtype_table[i].name, name) == 0) {
            *dtype_out = (tensor_dtype)i;
            return 1;
        }
    }
    return 0;
}

void tensor_shape_format(int n_dims, const int64_t *shape, char *buffer, size_t capacity) {
    if (capacity == 0) return;
    size_t used = 0;
    buffer[0] = '\0';
    for (int i = -1; i <= n_dims && used < capacity; i++) {
        int wrote;
        if (i == -1)
            wrote = snprintf(buffer + used, capacity - used, "[");
        else if (i == n_dims)
            wrote = snprintf(buffer + used, capacity - used, "]");
        else
            wrote = snprintf(buffer + used, capacity - used, "%s%" PRId64, i ? ", " : "", shape[i]);
        if (wrote < 0) return;
        used += (size_t)wrote;
    }
}

loupe_status tensor_to_f32(const tensor_view *tensor, float *out, loupe_error *error) {
    if ((unsigned)tensor->dtype >= DTYPE_COUNT || dtype_table[tensor->dtype].to_f32 == NULL)
        return error_set(error, LOUPE_ERROR_UNSUPPORTED,
                         "%s: tensor '%s': dtype %s is not a floating-point type",
                         tensor->file ? tensor->file : "?", tensor->name ? tensor->name : "?",
                         tensor_dtype_name(tensor->dtype));
    dtype_table[tensor->dtype].to_f32(tensor->data, tensor->n_elements, out);
    return LOUPE_OK;
}

/* ------------------------------------------------------------------------
 * Header entries
 * ---------------------------------------------------------------------- */

/* Where a tensor's bytes lie in the data section, for the layout check. */
typedef struct tensor_extent {
    uint64_t begin, end;
    size_t index; /* into the file's tensors */
} tensor_extent;

/* "__metadata__" must be an object mapping strings to strings. */
static loupe_status check_metadata(const cJSON *metadata, const char *path, loupe_error *error) {
    if (!cJSON_IsObject(metadata))
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: __metadata__ is %s, expected an object",
                         path, json_type_name(metadata));
    const cJSON *entry;
    cJSON_ArrayForEach(entry, metadata) {
        if (!cJSON_IsString(entry))
            return error_set(error, LOUPE_ERROR_FORMAT,
                             "%s: __metadata__ '%s' is %s, expected a string", path,
                             entry->string, json_type_name(entry));
    }
    return LOUPE_OK;
}

/* The entry's "dtype": a known spelling, else "unknown dtype". */
static loupe_status parse_dtype(const cJSON *entry, const char *path, const char *name,
                                tensor_dtype *dtype_out, loupe_error *error) {
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
    if (dtype == NULL)
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: tensor '%s': dtype missing", path, name);
    if (!cJSON_IsString(dtype))
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: tensor '%s': dtype is %s, expected a string",
                         path, name, json_type_name(dtype));
    if (!dtype_from_name(dtype->valuestring, dtype_out))
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: tensor '%s': unknown dtype \"%s\"", path,
                         name, dtype->valuestring);
    return LOUPE_OK;
}

/* Fills n_dims, shape and n_elements; the element count is checked for
 * overflow of int64. */
static loupe_status parse_shape(const cJSON *entry, const char *path, const char *name,
                                tensor_view *tensor, loupe_error *error) {
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(entry, "shape");
    if (shape == NULL)
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: tensor '%s': shape missing", path, name);
    if (!cJSON_IsArray(shape))
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: tensor '%s': shape is %s, expected an array",
                         path, name, json_type_name(shape));
    int n_dims = cJSON_GetArraySize(shape);
    if (n_dims > TENSOR_MAX_DIMS)
        return error_set(error, LOUPE_ERROR_LIMIT,
                         "%s: tensor '%s': shape has %d dims, more than the limit of %d", path, name,
                         n_dims, TENSOR_MAX_DIMS);
    int64_t n_elements = 1;
    int overflow = 0, dim_index = 0;
    const cJSON *dim;
    cJSON_ArrayForEach(dim, shape) {
        uint64_t extent;
        if (!json_get_natural(dim, &extent)) {
            const char *what = cJSON_IsNumber(dim) ? "not a non-negative integer" : json_type_name(dim);
            return error_set(error, LOUPE_ERROR_FORMAT,
                             "%s: tensor '%s': shape dim %d is %s, expected a non-negative integer",
                             path, name, dim_index, what);
        }
        tensor->shape[dim_index++] = (int64_t)extent;
        if (__builtin_mul_overflow(n_elements, (int64_t)extent, &n_elements)) overflow = 1;
    }
    tensor->n_dims = n_dims;
    if (overflow) {
        char shape_text[256];
        tensor_shape_format(n_dims, tensor->shape, shape_text, sizeof shape_text);
        return error_set(error, LOUPE_ERROR_FORMAT,
                         "%s: tensor '%s': element count of shape %s overflows 64 bits", path, name,
                         shape_text);
    }
    tensor->n_elements = n_elements;
    return LOUPE_OK;
}

/* The entry's "data_offsets": two naturals [begin, end] with begin <= end. */
static loupe_status parse_offsets(const cJSON *entry, const char *path, const char *name,
                                  tensor_extent *extent_out, loupe_error *error) {
    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(entry, "data_offsets");
    if (offsets == NULL)
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: tensor '%s': data_offsets missing", path,
                         name);
    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2)
        return error_set(error, LOUPE_ERROR_FORMAT,
                         "%s: tensor '%s': data_offsets must be an array [begin, end]", path, name);
    uint64_t begin, end;
    if (!json_get_natural(cJSON_GetArrayItem(offsets, 0), &begin) ||
        !json_get_natural(cJSON_GetArrayItem(offsets, 1), &end))
        return error_set(error, LOUPE_ERROR_FORMAT,
                         "%s: tensor '%s': data_offsets must be non-negative integers", path, name);
    if (end < begin)
        return error_set(error, LOUPE_ERROR_FORMAT,
                         "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] end before they begin",
                         path, name, begin, end);
    extent_out->begin = begin;
    extent_out->end = end;
    return LOUPE_OK;
}

/* Parses one tensor entry: dtype, shape, offsets, and checks that the byte
 * range has exactly the size the shape and dtype need. */
static loupe_status parse_tensor_entry(const cJSON *entry, const char *path, tensor_view *tensor,
                                       tensor_extent *extent, loupe_error *error) {
    const char *name = tensor->name;
    if (!cJSON_IsObject(entry))
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: tensor '%s': entry is %s, expected an object",
                         path, name, json_type_name(entry));
    loupe_status status = parse_dtype(entry, path, name, &tensor->dtype, error);
    if (status == LOUPE_OK) status = parse_shape(entry, path, name, tensor, error);
    if (status == LOUPE_OK) status = parse_offsets(entry, path, name, extent, error);
    if (status != LOUPE_OK) return status;

    char shape_text[256];
    tensor_shape_format(tensor->n_dims, tensor->shape, shape_text, sizeof shape_text);
    uint64_t needed;
    if (__builtin_mul_overflow((uint64_t)tensor->n_elements, (uint64_t)tensor_dtype_size(tensor->dtype),
                               &needed))
        return error_set(error, LOUPE_ERROR_FORMAT,
                         "%s: tensor '%s': byte size of shape %s of %s overflows 64 bits", path, name,
                         shape_text, tensor_dtype_name(tensor->dtype));
    uint64_t have = extent->end - extent->begin;
    if (have != needed)
        return error_set(error, LOUPE_ERROR_FORMAT,
                         "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] give %" PRIu64
                         " bytes, shape %s of %s needs %" PRIu64,
                         path, name, extent->begin, extent->end, have, shape_text,
                         tensor_dtype_name(tensor->dtype), needed);
    tensor->n_bytes = (size_t)have;
    return LOUPE_OK;
}

/* qsort order: by begin, then end, then file order (a total order, so the
 * first overlap reported does not depend on the qsort implementation). */
static int compare_extents(const void *a, const void *b) {
    const tensor_extent *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* The byte ranges, sorted by begin, must tile [0, data_size) exactly. */
static loupe_status check_layout(tensor_extent *extents, size_t n_tensors, uint64_t data_size,
                                 const safetensors_file *file, loupe_error *error) {
    qsort(extents, n_tensors, sizeof *extents, compare_extents);
    uint64_t covered = 0;
    const char *previous = NULL;
    for (size_t i = 0; i < n_tensors; i++) {
        const tensor_extent *extent = &extents[i];
        const char *name = file->tensors[extent->index].name;
        if (extent->begin < covered)
            return error_set(error, LOUPE_ERROR_FORMAT,
                             "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
                             "] overlap tensor '%s', which ends at %" PRIu64,
                             file->path, name, extent->begin, extent->end, previous, covered);
        if (extent->begin > covered) {
            if (previous == NULL)
                return error_set(error, LOUPE_ERROR_FORMAT,
                                 "%s: tensor '%s': data_offsets begin at %" PRIu64
                                 ", leaving a gap: the first tensor must begin at 0",
                                 file->path, name, extent->begin);
            return error_set(error, LOUPE_ERROR_FORMAT,
                             "%s: tensor '%s': data_offsets begin at %" PRIu64
                             ", leaving a gap after tensor '%s', which ends at %" PRIu64,
                             file->path, name, extent->begin, previous, covered);
        }
        covered = extent->end;
        previous = name;
    }
    if (covered < data_size)
        return error_set(error, LOUPE_ERROR_FORMAT,
                         "%s: data section has %" PRIu64 " bytes but the tensors cover only %" PRIu64,
                         file->path, data_size, covered);
    if (covered > data_size)
        return error_set(error, LOUPE_ERROR_FORMAT,
                         "%s: tensors need %" PRIu64 " bytes but the data section has only %" PRIu64
                         " (file truncated?)",
                         file->path, covered, data_size);
    return LOUPE_OK;
}

/* ------------------------------------------------------------------------
 * Whole files
 * ---------------------------------------------------------------------- */

/* Walks the header object: counts, allocates, parses every entry, checks the
 * layout and points each view at its bytes. */
static loupe_status parse_header(const cJSON *header, const uint8_t *data_section,
                                 uint64_t data_size, safetensors_file *file, loupe_error *error) {
    const char *path = file->path;
    size_t n_tensors = 0;
    const cJSON *entry;
    cJSON_ArrayForEach(entry, header) {
        if (strcmp(entry->string, "__metadata__") == 0) continue;
        if (++n_tensors > SAFETENSORS_MAX_TENSORS)
            return error_set(error, LOUPE_ERROR_LIMIT, "%s: more than %d tensors", path,
                             SAFETENSORS_MAX_TENSORS);
    }
    file->tensors = calloc(n_tensors ? n_tensors : 1, sizeof *file->tensors);
    tensor_extent *extents = calloc(n_tensors ? n_tensors : 1, sizeof *extents);
    if (file->tensors == NULL || extents == NULL || string_map_init(&file->by_name, n_tensors) != 0) {
        free(extents);
        return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory for %zu tensors", path,
                         n_tensors);
    }

    loupe_status status = LOUPE_OK;
    cJSON_ArrayForEach(entry, header) {
        if (strcmp(entry->string, "__metadata__") == 0) {
            status = check_metadata(entry, path, error);
            if (status != LOUPE_OK) break;
            continue;
        }
        size_t index = file->n_tensors;
        tensor_view *tensor = &file->tensors[index];
        size_t name_length = strlen(entry->string);
        tensor->name = malloc(name_length + 1);
        if (tensor->name == NULL) {
            status = error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", path);
            break;
        }
        memcpy(tensor->name, entry->string, name_length + 1);
        tensor->file = path;
        file->n_tensors++;
        int added = string_map_put(&file->by_name, tensor->name, name_length, (int64_t)index);
        if (added < 0) {
            status = error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", path);
            break;
        }
        if (added == 0) {
            status = error_set(error, LOUPE_ERROR_FORMAT, "%s: tensor '%s' appears twice in the header",
                               path, tensor->name);
            break;
        }
        extents[index].index = index;
        status = parse_tensor_entry(entry, path, tensor, &extents[index], error);
        if (status != LOUPE_OK) break;
    }
    if (status == LOUPE_OK) status = check_layout(extents, file->n_tensors, data_size, file, error);
    if (status == LOUPE_OK) {
        for (size_t i = 0; i < file->n_tensors; i++)
            file->tensors[extents[i].index].data = data_section + extents[i].begin;
    }
    free(extents);
    return status;
}

/* The body of safetensors_parse; on failure the caller releases *file. */
static loupe_status parse_bytes(const uint8_t *bytes, size_t size, safetensors_file *file,
                                loupe_error *error) {
    const char *path = file->path;
    if (size < 8)
        return error_set(error, LOUPE_ERROR_FORMAT,
                         "%s: file is %zu bytes, too short for the 8-byte header length", path, size);
    uint64_t header_length = read_u64_le(bytes);
    if (header_length > SAFETENSORS_MAX_HEADER_BYTES)
        return error_set(error, LOUPE_ERROR_LIMIT,
                         "%s: header length %" PRIu64 " exceeds the limit of %d bytes", path,
                         header_length, SAFETENSORS_MAX_HEADER_BYTES);
    if (header_length > size - 8)
        return error_set(error, LOUPE_ERROR_FORMAT,
                         "%s: header length %" PRIu64 " runs past the end of the file (%zu bytes)",
                         path, header_length, size);
    cJSON *header = NULL;
    loupe_status status = json_parse((const char *)bytes + 8, (size_t)header_length, path, &header, error);
    if (status != LOUPE_OK) return status;
    if (cJSON_IsObject(header)) {
        size_t data_offset = 8 + (size_t)header_length;
        status = parse_header(header, bytes + data_offset, (uint64_t)(size - data_offset), file, error);
    } else {
        status = error_set(error, LOUPE_ERROR_FORMAT, "%s: header is %s, expected a JSON object", path,
                           json_type_name(header));
    }
    cJSON_Delete(header);
    return status;
}

loupe_status safetensors_parse(const uint8_t *bytes, size_t size, const char *display_name,
                               safetensors_file *out, loupe_error *error) {
    memset(out, 0, sizeof *out);
    out->path = strdup(display_name);
    if (out->path == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", display_name);
    loupe_status status = parse_bytes(bytes, size, out, error);
    if (status != LOUPE_OK) safetensors_close(out);
    return status;
}

loupe_status safetensors_open(const char *path, safetensors_file *out, loupe_error *error) {
    memset(out, 0, sizeof *out);
    file_map map;
    loupe_status status = file_map_open(path, &map, error);
    if (status != LOUPE_OK) return status;
    status = safetensors_parse(map.data, map.size, path, out, error);
    if (status != LOUPE_OK) {
        file_map_close(&map);
        return status;
    }
    out->map = map;
    return LOUPE_OK;
}

loupe_status safetensors_header_json(const safetensors_file *file, cJSON **header, loupe_error *error) {
    *header = NULL;
    if (file->map.data == NULL || file->map.size < 8)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "%s: not a mapped safetensors file", file->path);
    uint64_t length = 0;
    for (int i = 0; i < 8; i++) length |= (uint64_t)file->map.data[i] << (8 * i);
    /* safetensors_parse has checked that the header lies inside the file */
    return json_parse((const char *)file->map.data + 8, (size_t)length, file->path, header, error);
}

void safetensors_close(safetensors_file *file) {
    if (file == NULL) return;
    if (file->tensors) {
        for (size_t i = 0; i < file->n_tensors; i++) free(file->tensors[i].name);
        free(file->tensors);
    }
    string_map_free(&file->by_name);
    file_map_close(&file->map);
    free(file->path);
    memset(file, 0, sizeof *file);
}

const tensor_view *safetensors_find(const safetensors_file *file, const char *name) {
    int64_t index;
    if (!string_map_get(&file->by_name, name, strlen(name), &index)) return NULL;
    return &file->tensors[index];
}
