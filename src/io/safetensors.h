/*
 * safetensors.h - the safetensors format: an 8-byte little-endian header
 * length N, N bytes of JSON describing each tensor (dtype, shape,
 * data_offsets relative to the data section), then the data section.
 *
 * Parsing follows the safetensors rules: header length bounded and inside
 * the file, header JSON valid, offsets contiguous from 0 and ending at the
 * end of the file, end - begin = numel x dtype size, no unknown dtype.
 */
#ifndef LOUPE_IO_SAFETENSORS_H
#define LOUPE_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "loupe.h"
#include "util/file_map.h"
#include "util/string_map.h"

typedef enum tensor_dtype {
    TENSOR_DTYPE_F64,
    TENSOR_DTYPE_F32,
    TENSOR_DTYPE_F16,
    TENSOR_DTYPE_BF16,
    TENSOR_DTYPE_I64,
    TENSOR_DTYPE_I32,
    TENSOR_DTYPE_I16,
    TENSOR_DTYPE_I8,
    TENSOR_DTYPE_U8,
    TENSOR_DTYPE_BOOL,
} tensor_dtype;

/* Bytes per element. */
size_t tensor_dtype_size(tensor_dtype dtype);
/* The safetensors spelling: "F32", "BF16", ... */
const char *tensor_dtype_name(tensor_dtype dtype);

enum { TENSOR_MAX_DIMS = 8 };

/* Limits checked before anything is allocated from a header. */
enum {
    SAFETENSORS_MAX_HEADER_BYTES = 100000000, /* as in the reference implementation */
    SAFETENSORS_MAX_TENSORS = 1048576,
};

/* Writes a shape as "[32, 96]" ("[]" for a scalar) into buffer (capacity
 * bytes, always NUL-terminated; truncated if too small). shape is (n_dims). */
void tensor_shape_format(int n_dims, const int64_t *shape, char *buffer, size_t capacity);

typedef struct tensor_view {
    char *name;                      /* owned by the safetensors file */
    tensor_dtype dtype;
    int n_dims;
    int64_t shape[TENSOR_MAX_DIMS];  /* (n_dims) */
    int64_t n_elements;
    const uint8_t *data;             /* (n_bytes), inside the file's bytes; may be unaligned */
    size_t n_bytes;
    const char *file;                /* display name of the file holding it */
} tensor_view;

typedef struct safetensors_file {
    char *path;            /* display name used in messages (owned) */
    file_map map;          /* the mapped file, when opened from a path */
    tensor_view *tensors;  /* (n_tensors), in file order */
    size_t n_tensors;
    string_map by_name;    /* name -> index into tensors */
} safetensors_file;

/* Parses `size` bytes (not copied: views point into them, which must outlive
 * the result). display_name names the file in messages. */
loupe_status safetensors_parse(const uint8_t *bytes, size_t size, const char *display_name,
                               safetensors_file *out, loupe_error *error);

/* Maps the file at path and parses it; messages name the path. */
loupe_status safetensors_open(const char *path, safetensors_file *out, loupe_error *error);

/* Releases everything; a zeroed or already closed file is fine. */
void safetensors_close(safetensors_file *file);

/* The header of a file opened with safetensors_open, parsed again as JSON
 * into *header (the caller cJSON_Deletes it): for reading its
 * "__metadata__" object, which safetensors_parse checks but does not keep.
 * Messages name the file. */
loupe_status safetensors_header_json(const safetensors_file *file, cJSON **header, loupe_error *error);

/* The tensor called name, or NULL. */
const tensor_view *safetensors_find(const safetensors_file *file, const char *name);

/* Converts any floating-point tensor (F64, F32, F16, BF16) to float32:
 * out (n_elements). Reads the bytes little-endian with unaligned loads (F16
 * with the CPU's F16C instructions when it has them, src/io/half_convert.h),
 * so unaligned data is fine; F16 subnormals and infinities convert exactly,
 * NaNs stay NaNs of the same sign, F64 rounds to nearest. Integer dtypes are LOUPE_ERROR_UNSUPPORTED. */
loupe_status tensor_to_f32(const tensor_view *tensor, float *out, loupe_error *error);

#endif
