/*
 * test_safetensors.c - the safetensors reader against the Hugging Face
 * fixtures (values decoded by hand from the raw bytes here), the dtype
 * conversions against hand-computed bit patterns, the F16C conversion
 * against the portable one on every half, and every malformed-file rule
 * against a file built in memory.
 */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/half_convert.h"
#include "io/safetensors.h"
#include "test_support.h"
#include "util/cpu_features.h"

/* Where half_convert.c has its F16C body. */
#if defined(__x86_64__) && defined(__GNUC__)
#define TEST_HAVE_F16C true
#else
#define TEST_HAVE_F16C false
#endif

/* ------------------------------------------------------------------------
 * Independent decoding of the raw bytes
 * ---------------------------------------------------------------------- */

static uint64_t decode_u64_le(const unsigned char *p) {
    uint64_t value = 0;
    for (int i = 7; i >= 0; i--) value = (value << 8) | p[i];
    return value;
}

static float decode_f32_le(const unsigned char *p) {
    uint32_t bits = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

/* The data_offsets begin of tensor `name` found by text search in the raw
 * header (the fixtures are written compactly by the safetensors library);
 * -1 when not found. */
static int64_t raw_offset_begin(const char *file_bytes, const char *name) {
    uint64_t header_length = decode_u64_le((const unsigned char *)file_bytes);
    char *header = malloc(header_length + 1);
    if (header == NULL) return -1;
    memcpy(header, file_bytes + 8, header_length);
    header[header_length] = '\0';
    char key[256];
    snprintf(key, sizeof key, "\"%s\":{", name);
    int64_t begin = -1;
    const char *entry = strstr(header, key);
    const char *offsets = entry ? strstr(entry, "\"data_offsets\":[") : NULL;
    if (offsets) begin = strtoll(offsets + strlen("\"data_offsets\":["), NULL, 10);
    free(header);
    return begin;
}

/* The float32 at element `index` of tensor `name`, decoded from the file. */
static float raw_f32(const char *file_bytes, const char *name, int64_t index) {
    uint64_t header_length = decode_u64_le((const unsigned char *)file_bytes);
    int64_t begin = raw_offset_begin(file_bytes, name);
    return decode_f32_le((const unsigned char *)file_bytes + 8 + header_length + begin + 4 * index);
}

static int shape_is(const tensor_view *tensor, int n_dims, int64_t d0, int64_t d1, int64_t d2) {
    int64_t expected[3] = {d0, d1, d2};
    if (tensor == NULL || tensor->n_dims != n_dims) return 0;
    for (int i = 0; i < n_dims; i++)
        if (tensor->shape[i] != expected[i]) return 0;
    return 1;
}

/* ------------------------------------------------------------------------
 * Fixtures
 * ---------------------------------------------------------------------- */

static void test_model_file(void) {
    const char *path = test_data_path("gpt2-tiny-gelu/model.safetensors");
    size_t size = 0;
    char *raw = test_read_file(path, &size);
    CHECK(raw != NULL);
    if (raw == NULL) return;

    safetensors_file file;
    loupe_error error = {0};
    loupe_status status = safetensors_open(path, &file, &error);
    CHECK_MSG(status == LOUPE_OK, "%s", error.message);
    if (status != LOUPE_OK) {
        free(raw);
        return;
    }
    /* config.json: 3 layers x 12 tensors + wte, wpe, ln_f.weight, ln_f.bias. */
    CHECK(file.n_tensors == 3 * 12 + 4);
    const char *layer_parts[] = {"attn.c_attn.bias", "attn.c_attn.weight", "attn.c_proj.bias",
                                 "attn.c_proj.weight", "ln_1.bias", "ln_1.weight", "ln_2.bias",
                                 "ln_2.weight", "mlp.c_fc.bias", "mlp.c_fc.weight",
                                 "mlp.c_proj.bias", "mlp.c_proj.weight"};
    for (int layer = 0; layer < 3; layer++) {
        for (size_t p = 0; p < sizeof layer_parts / sizeof layer_parts[0]; p++) {
            char name[128];
            snprintf(name, sizeof name, "transformer.h.%d.%s", layer, layer_parts[p]);
            const tensor_view *tensor = safetensors_find(&file, name);
            CHECK_MSG(tensor != NULL && tensor->dtype == TENSOR_DTYPE_F32, "%s", name);
        }
    }
    const tensor_view *wte = safetensors_find(&file, "transformer.wte.weight");
    const tensor_view *wpe = safetensors_find(&file, "transformer.wpe.weight");
    const tensor_view *c_attn = safetensors_find(&file, "transformer.h.1.attn.c_attn.weight");
    const tensor_view *c_proj = safetensors_find(&file, "transformer.h.2.mlp.c_proj.weight");
    CHECK(shape_is(wte, 2, 1000, 32, 0));
    CHECK(shape_is(wpe, 2, 64, 32, 0));
    CHECK(shape_is(c_attn, 2, 32, 96, 0));
    CHECK(shape_is(c_proj, 2, 128, 32, 0));
    CHECK(shape_is(safetensors_find(&file, "transformer.ln_f.bias"), 1, 32, 0, 0));
    CHECK(safetensors_find(&file, "wte.weight") == NULL);
    CHECK(safetensors_find(&file, "__metadata__") == NULL);
    CHECK(wte && wte->n_elements == 32000 && wte->n_bytes == 128000);
    CHECK(wte && strcmp(wte->file, path) == 0);
    CHECK(wte && strcmp(tensor_dtype_name(wte->dtype), "F32") == 0);

    /* Views point at the bytes the header names, decoded by hand here. */
    uint64_t header_length = decode_u64_le((const unsigned char *)raw);
    if (wte && c_attn) {
        CHECK(wte->data == file.map.data + 8 + header_length + raw_offset_begin(raw, "transformer.wte.weight"));
        float *converted = malloc(sizeof(float) * (size_t)wte->n_elements);
        if (converted == NULL) return;
        CHECK(tensor_to_f32(wte, converted, &error) == LOUPE_OK);
        const int64_t probes[] = {0, 1, 31, 32, 12345, 31999};
        for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++)
            CHECK(converted[probes[i]] == raw_f32(raw, "transformer.wte.weight", probes[i]));
        free(converted);
        float attn_value = 0;
        memcpy(&attn_value, c_attn->data + 4 * 100, 4);
        CHECK(attn_value == raw_f32(raw, "transformer.h.1.attn.c_attn.weight", 100));
    }
    safetensors_close(&file);
    safetensors_close(&file); /* closing twice is a no-op */
    free(raw);
}

/* reference.safetensors holds the HF hidden states; hidden.0 is the
 * embedding sum wte[id] + wpe[position], which ties the two files together. */
static void test_reference_file(void) {
    safetensors_file model, reference;
    loupe_error error = {0};
    loupe_status status = safetensors_open(test_data_path("gpt2-tiny-gelu/model.safetensors"), &model, &error);
    CHECK_MSG(status == LOUPE_OK, "%s", error.message);
    status = safetensors_open(test_data_path("gpt2-tiny-gelu/reference.safetensors"), &reference, &error);
    CHECK_MSG(status == LOUPE_OK, "%s", error.message);
    if (status != LOUPE_OK) {
        safetensors_close(&model);
        return;
    }
    CHECK(reference.n_tensors == 6);
    CHECK(strcmp(reference.tensors[0].name, "hidden.0") == 0); /* file order kept */
    const tensor_view *ids = safetensors_find(&reference, "input_ids");
    const tensor_view *hidden0 = safetensors_find(&reference, "hidden.0");
    const tensor_view *logits = safetensors_find(&reference, "lens_logits");
    CHECK(ids && ids->dtype == TENSOR_DTYPE_I32 && shape_is(ids, 1, 16, 0, 0));
    CHECK(shape_is(hidden0, 2, 16, 32, 0));
    CHECK(shape_is(logits, 3, 4, 16, 1000));
    CHECK(shape_is(safetensors_find(&reference, "hidden.3"), 2, 16, 32, 0));

    float scratch[16];
    error.message[0] = '\0';
    CHECK(ids && tensor_to_f32(ids, scratch, &error) == LOUPE_ERROR_UNSUPPORTED);
    CHECK(strstr(error.message, "input_ids") != NULL && strstr(error.message, "I32") != NULL);

    const tensor_view *wte = safetensors_find(&model, "transformer.wte.weight");
    const tensor_view *wpe = safetensors_find(&model, "transformer.wpe.weight");
    if (ids && hidden0 && wte && wpe) {
        float *wte_f = malloc(sizeof(float) * 32000), *wpe_f = malloc(sizeof(float) * 64 * 32);
        float *hidden_f = malloc(sizeof(float) * 16 * 32);
        CHECK(wte_f && wpe_f && hidden_f);
        if (!(wte_f && wpe_f && hidden_f)) return;
        CHECK(tensor_to_f32(wte, wte_f, &error) == LOUPE_OK);
        CHECK(tensor_to_f32(wpe, wpe_f, &error) == LOUPE_OK);
        CHECK(tensor_to_f32(hidden0, hidden_f, &error) == LOUPE_OK);
        double worst = 0;
        int ids_in_range = 1;
        for (int t = 0; t < 16; t++) {
            const uint8_t *p = ids->data + 4 * t;
            int32_t id = (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                                   (uint32_t)p[3] << 24);
            if (id < 0 || id >= 1000) {
                ids_in_range = 0;
                continue;
            }
            for (int c = 0; c < 32; c++) {
                double d = fabs((double)(wte_f[id * 32 + c] + wpe_f[t * 32 + c]) - hidden_f[t * 32 + c]);
                if (!(d <= worst)) worst = d;
            }
        }
        CHECK(ids_in_range);
        CHECK_MSG(worst <= 1e-6, "embedding sum differs by %g", worst);
        free(wte_f);
        free(wpe_f);
        free(hidden_f);
    }
    safetensors_close(&model);
    safetensors_close(&reference);
}

/* ------------------------------------------------------------------------
 * Conversions
 * ---------------------------------------------------------------------- */

/* Converts n elements of the given dtype stored little-endian in bytes,
 * placed at an odd address so unaligned reads are exercised. */
static void convert(tensor_dtype dtype, const uint8_t *bytes, int64_t n, float *out) {
    uint8_t buffer[1 + 8 * 16];
    size_t n_bytes = (size_t)n * tensor_dtype_size(dtype);
    memcpy(buffer + 1, bytes, n_bytes);
    tensor_view view = {.name = "probe", .dtype = dtype, .n_dims = 1, .shape = {n},
                        .n_elements = n, .data = buffer + 1, .n_bytes = n_bytes, .file = "memory"};
    loupe_error error = {0};
    CHECK_MSG(tensor_to_f32(&view, out, &error) == LOUPE_OK, "%s", error.message);
}

static void put_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void test_f16(void) {
    /* binary16 bit patterns, worked out by hand from sign|exponent(5)|mantissa(10). */
    const uint16_t bits[] = {0x3C00, 0xC100, 0x7BFF, 0x0001, 0x03FF, 0x0400, 0x8000,
                             0x7C00, 0xFC00, 0x7E00, 0x3555, 0x8001};
    const float expected[] = {
        1.0f,                          /* 0 01111 0000000000 */
        -2.5f,                         /* 1 10000 0100000000: -1.25 x 2 */
        65504.0f,                      /* largest finite: (2 - 2^-10) x 2^15 */
        5.9604644775390625e-8f,        /* smallest subnormal: 2^-24 */
        6.0975551605224609375e-5f,     /* largest subnormal: 1023 x 2^-24 */
        6.103515625e-5f,               /* smallest normal: 2^-14 */
        -0.0f,
        INFINITY,
        -INFINITY,
        NAN,
        0.333251953125f,               /* 0 01101 0101010101: (1 + 341/1024) / 4 */
        -5.9604644775390625e-8f,
    };
    enum { N = sizeof bits / sizeof bits[0] };
    uint8_t bytes[2 * N];
    for (int i = 0; i < N; i++) put_u16(bytes + 2 * i, bits[i]);
    float out[N];
    convert(TENSOR_DTYPE_F16, bytes, N, out);
    for (int i = 0; i < N; i++) {
        if (isnan(expected[i]))
            CHECK_MSG(isnan(out[i]), "f16 0x%04x", bits[i]);
        else
            CHECK_MSG(out[i] == expected[i] && signbit(out[i]) == signbit(expected[i]),
                      "f16 0x%04x gave %.9g, expected %.9g", bits[i], out[i], expected[i]);
    }
    CHECK(ldexpf(1.0f, -24) == out[3]);
    CHECK(ldexpf(1023.0f, -24) == out[4]);
}

/* The float32 bit pattern of a value. */
static uint32_t bits_of(float value) {
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    return bits;
}

/* n F16 elements at bytes (any alignment) -> out through tensor_to_f32, by
 * the body of this run's level, or by half_to_f32_reference. */
static void convert_f16_with(bool reference, const uint8_t *bytes, int64_t n, float *out) {
    if (reference) {
        half_to_f32_reference(bytes, n, out);
        return;
    }
    tensor_view view = {.name = "probe", .dtype = TENSOR_DTYPE_F16, .n_dims = 1, .shape = {n},
                        .n_elements = n, .data = bytes, .n_bytes = (size_t)n * 2, .file = "memory"};
    loupe_error error = {0};
    CHECK_MSG(tensor_to_f32(&view, out, &error) == LOUPE_OK, "%s", error.message);
}

/* The F16C result for half must be the portable one, bit for bit; a NaN
 * may come back quieted (F16C sets the quiet bit of a signalling NaN) but
 * keeps its sign and payload. Returns whether they agree. */
static bool f16c_agrees(float fast, float reference) {
    uint32_t fast_bits = bits_of(fast), reference_bits = bits_of(reference);
    if (fast_bits == reference_bits) return true;
    const uint32_t quiet_bit = 0x00400000u;
    return isnan(fast) && isnan(reference) && (fast_bits | quiet_bit) == (reference_bits | quiet_bit);
}

/* Every one of the 65536 halves, then lengths 1..40 from source addresses
 * of each alignment mod 16 (the vector loads, the scalar tails and their
 * joins), in exactly sized buffers so ASan sees any overrun; a sentinel
 * after out catches a tail that writes a whole vector. */
static void test_f16_bodies(void) {
    /* ctest runs this program once per level (LOUPE_CPU): F16C at avx2 and up. */
    const bool f16c = cpu_features_level() >= CPU_LEVEL_AVX2 && TEST_HAVE_F16C;
    enum { N_HALVES = 65536, MAX_LENGTH = 40 };
    uint8_t *bytes = malloc(1 + 2 * N_HALVES);
    float *fast = malloc(N_HALVES * sizeof *fast), *reference = malloc(N_HALVES * sizeof *reference);
    if (bytes == NULL || fast == NULL || reference == NULL) {
        CHECK(!"out of memory");
        free(bytes);
        free(fast);
        free(reference);
        return;
    }
    for (int half = 0; half < N_HALVES; half++) put_u16(bytes + 1 + 2 * half, (uint16_t)half);
    convert_f16_with(true, bytes + 1, N_HALVES, reference);
    convert_f16_with(false, bytes + 1, N_HALVES, fast);
    int mismatches = 0, nans = 0;
    for (int half = 0; half < N_HALVES; half++) {
        nans += isnan(reference[half]) != 0;
        if (f16c_agrees(fast[half], reference[half])) continue;
        if (++mismatches <= 5)
            fprintf(stderr, "f16 0x%04x: F16C gave 0x%08" PRIx32 ", portable 0x%08" PRIx32 "\n", half,
                    bits_of(fast[half]), bits_of(reference[half]));
    }
    CHECK_MSG(mismatches == 0, "%d of %d halves differ between the bodies", mismatches, N_HALVES);
    /* The level's body really ran: only F16C quiets the signalling NaN 0x7C01. */
    CHECK_MSG(bits_of(reference[0x7C01]) == 0x7F802000u, "portable gave 0x%08" PRIx32,
              bits_of(reference[0x7C01]));
    CHECK_MSG(bits_of(fast[0x7C01]) == (f16c ? 0x7FC02000u : 0x7F802000u), "level %s gave 0x%08" PRIx32,
              cpu_level_name(cpu_features_level()), bits_of(fast[0x7C01]));
    /* the comparison above really met NaNs: 2 signs x 1023 payloads */
    CHECK_MSG(nans == 2 * 1023, "%d NaNs, expected 2046", nans);

    const float sentinel = -12345.0f;
    for (int length = 1; length <= MAX_LENGTH; length++) {
        for (int offset = 0; offset < 16; offset++) {
            uint8_t *source = malloc((size_t)offset + 2 * (size_t)length);
            float *out_fast = malloc((length + 1) * sizeof *out_fast);
            float *out_reference = malloc(length * sizeof *out_reference);
            if (source == NULL || out_fast == NULL || out_reference == NULL) {
                CHECK(!"out of memory");
            } else {
                /* halves spread over the whole range, a different set per length */
                for (int i = 0; i < length; i++)
                    put_u16(source + offset + 2 * i, (uint16_t)(0x7BF0 + 997 * (length + i)));
                out_fast[length] = sentinel;
                convert_f16_with(true, source + offset, length, out_reference);
                convert_f16_with(false, source + offset, length, out_fast);
                int agree = 1;
                for (int i = 0; i < length; i++) agree &= f16c_agrees(out_fast[i], out_reference[i]);
                CHECK_MSG(agree, "length %d at offset %d: the bodies differ", length, offset);
                CHECK_MSG(bits_of(out_fast[length]) == bits_of(sentinel),
                          "length %d at offset %d: F16C wrote past the end", length, offset);
            }
            free(source);
            free(out_fast);
            free(out_reference);
        }
    }
    free(bytes);
    free(fast);
    free(reference);
}

static void test_bf16(void) {
    const uint16_t bits[] = {0x3F80, 0xC020, 0x477F, 0x0001, 0x7F80, 0xFF80, 0x7FC0, 0x3EAB};
    const float expected[] = {
        1.0f, -2.5f,
        65280.0f,    /* 0 10001110 1111111: (1 + 127/128) x 2^15 */
        0.0f,        /* placeholder: smallest subnormal 2^-133, checked below */
        INFINITY, -INFINITY, NAN,
        0.333984375f, /* 0 01111101 0101011: (1 + 43/128) / 4 */
    };
    enum { N = sizeof bits / sizeof bits[0] };
    uint8_t bytes[2 * N];
    for (int i = 0; i < N; i++) put_u16(bytes + 2 * i, bits[i]);
    float out[N];
    convert(TENSOR_DTYPE_BF16, bytes, N, out);
    for (int i = 0; i < N; i++) {
        if (i == 3) continue;
        if (isnan(expected[i]))
            CHECK_MSG(isnan(out[i]), "bf16 0x%04x", bits[i]);
        else
            CHECK_MSG(out[i] == expected[i], "bf16 0x%04x gave %.9g", bits[i], out[i]);
    }
    CHECK(out[3] == ldexpf(1.0f, -133));
}

static void test_f32_f64(void) {
    /* Little-endian bytes of binary32 values, written out by hand. */
    const uint8_t f32_bytes[] = {
        0x00, 0x00, 0x80, 0x3F, /* 1.0 */
        0x00, 0x00, 0x20, 0xC0, /* -2.5 */
        0x00, 0xE0, 0x7F, 0x47, /* 65504 */
        0x01, 0x00, 0x00, 0x00, /* 2^-149 */
        0x00, 0x00, 0x80, 0x7F, /* inf */
        0x00, 0x00, 0xC0, 0x7F, /* NaN */
    };
    float out[6];
    convert(TENSOR_DTYPE_F32, f32_bytes, 6, out);
    CHECK(out[0] == 1.0f);
    CHECK(out[1] == -2.5f);
    CHECK(out[2] == 65504.0f);
    CHECK(out[3] == ldexpf(1.0f, -149));
    CHECK(isinf(out[4]) && out[4] > 0);
    CHECK(isnan(out[5]));

    const uint8_t f64_bytes[] = {
        0, 0, 0, 0, 0, 0, 0xF0, 0x3F,       /* 1.0 */
        0, 0, 0, 0, 0, 0, 0x04, 0xC0,       /* -2.5 */
        0, 0, 0, 0, 0, 0xFC, 0xEF, 0x40,    /* 65504 = 1.9990234375 x 2^15 */
        0, 0, 0, 0, 0, 0, 0xF0, 0x7F,       /* inf */
        0x9C, 0x75, 0x88, 0x3C, 0xE4, 0x37, 0x7E, 0x7E, /* 1e300 -> inf in float */
    };
    convert(TENSOR_DTYPE_F64, f64_bytes, 5, out);
    CHECK(out[0] == 1.0f);
    CHECK(out[1] == -2.5f);
    CHECK(out[2] == 65504.0f);
    CHECK(isinf(out[3]) && out[3] > 0);
    CHECK(isinf(out[4]) && out[4] > 0);

    CHECK(tensor_dtype_size(TENSOR_DTYPE_BF16) == 2 && tensor_dtype_size(TENSOR_DTYPE_I64) == 8 &&
          tensor_dtype_size(TENSOR_DTYPE_BOOL) == 1);
}

/* ------------------------------------------------------------------------
 * Malformed files, built in memory
 * ---------------------------------------------------------------------- */

/* Builds 8-byte length + header + data_size zero bytes (caller frees). */
static uint8_t *build_file(const char *header, uint64_t declared_length, size_t data_size, size_t *size_out) {
    size_t header_length = strlen(header);
    size_t size = 8 + header_length + data_size;
    uint8_t *bytes = calloc(size, 1);
    if (bytes == NULL) return NULL;
    for (int i = 0; i < 8; i++) bytes[i] = (uint8_t)(declared_length >> (8 * i));
    memcpy(bytes + 8, header, header_length);
    *size_out = size;
    return bytes;
}

/* Parses a file with the given header and data size; checks the status and
 * that the message names the file and holds each given substring. */
static void expect_failure(const char *what, const char *header, size_t data_size,
                           loupe_status expected_status, const char *substring1, const char *substring2) {
    size_t size = 0;
    uint8_t *bytes = build_file(header, strlen(header), data_size, &size);
    if (bytes == NULL) {
        CHECK(bytes != NULL);
        return;
    }
    safetensors_file file;
    loupe_error error = {0};
    loupe_status status = safetensors_parse(bytes, size, "bad.safetensors", &file, &error);
    CHECK_MSG(status == expected_status, "%s: status %d, message: %s", what, (int)status, error.message);
    CHECK_MSG(strncmp(error.message, "bad.safetensors: ", 17) == 0, "%s: %s", what, error.message);
    CHECK_MSG(strstr(error.message, substring1) != NULL, "%s: '%s' not in: %s", what, substring1, error.message);
    if (substring2)
        CHECK_MSG(strstr(error.message, substring2) != NULL, "%s: '%s' not in: %s", what, substring2,
                  error.message);
    CHECK(strchr(error.message, '\n') == NULL);
    CHECK(file.tensors == NULL && file.n_tensors == 0 && file.path == NULL); /* released */
    free(bytes);
}

static void test_framing_errors(void) {
    safetensors_file file;
    loupe_error error = {0};
    const uint8_t five[5] = {1, 0, 0, 0, 0};
    CHECK(safetensors_parse(five, sizeof five, "short.safetensors", &file, &error) == LOUPE_ERROR_FORMAT);
    CHECK(strstr(error.message, "short.safetensors") && strstr(error.message, "too short"));
    CHECK(safetensors_parse(NULL, 0, "empty.safetensors", &file, &error) == LOUPE_ERROR_FORMAT);

    size_t size = 0;
    uint8_t *bytes = build_file("{}", 100, 0, &size); /* says 100, has 2 */
    CHECK(safetensors_parse(bytes, size, "past.safetensors", &file, &error) == LOUPE_ERROR_FORMAT);
    CHECK_MSG(strstr(error.message, "header length 100 runs past the end"), "%s", error.message);
    free(bytes);

    bytes = build_file("{}", (uint64_t)1 << 40, 0, &size);
    CHECK(safetensors_parse(bytes, size, "huge.safetensors", &file, &error) == LOUPE_ERROR_LIMIT);
    CHECK_MSG(strstr(error.message, "1099511627776") && strstr(error.message, "limit"), "%s", error.message);
    free(bytes);

    bytes = build_file("{}", 100000001, 0, &size);
    CHECK(safetensors_parse(bytes, size, "huge.safetensors", &file, &error) == LOUPE_ERROR_LIMIT);
    free(bytes);

    /* An empty header object with no data is a valid empty file; so is
     * padding with spaces, which the reference writer adds. */
    const char *padded = "{\"__metadata__\":{\"format\":\"pt\"}}    ";
    bytes = build_file(padded, strlen(padded), 0, &size);
    CHECK_MSG(safetensors_parse(bytes, size, "empty.safetensors", &file, &error) == LOUPE_OK, "%s",
              error.message);
    CHECK(file.n_tensors == 0);
    safetensors_close(&file);
    free(bytes);

    /* A truncated copy of a real file loses part of its data section. */
    size_t real_size = 0;
    char *real = test_read_file(test_data_path("gpt2-tiny-gelu/model.safetensors"), &real_size);
    CHECK(real != NULL);
    if (real) {
        CHECK(safetensors_parse((const uint8_t *)real, real_size - 100, "cut.safetensors", &file, &error) ==
              LOUPE_ERROR_FORMAT);
        CHECK_MSG(strstr(error.message, "288896") && strstr(error.message, "data section has only"), "%s",
                  error.message);
        CHECK(safetensors_parse((const uint8_t *)real, 3000, "cut.safetensors", &file, &error) ==
              LOUPE_ERROR_FORMAT);
        CHECK_MSG(strstr(error.message, "runs past the end"), "%s", error.message);
        free(real);
    }

    CHECK(safetensors_open("/nonexistent/loupe/model.safetensors", &file, &error) == LOUPE_ERROR_IO);
    CHECK(strstr(error.message, "/nonexistent/loupe/model.safetensors") != NULL);
}

#define ONE_F32(name, shape, begin, end) \
    "\"" name "\":{\"dtype\":\"F32\",\"shape\":" shape ",\"data_offsets\":[" #begin "," #end "]}"

static void test_header_errors(void) {
    /* Header JSON itself: 'x' is at byte offset 5 of {"a":x}. */
    expect_failure("not JSON", "{\"a\":x}", 0, LOUPE_ERROR_FORMAT, "invalid JSON", "byte offset 5");
    expect_failure("trailing text", "{} junk", 0, LOUPE_ERROR_FORMAT, "invalid JSON", "byte offset 3");
    expect_failure("array header", "[1, 2]", 0, LOUPE_ERROR_FORMAT, "an array", "expected a JSON object");
    expect_failure("string header", "\"hello\"", 0, LOUPE_ERROR_FORMAT, "expected a JSON object", NULL);
    expect_failure("metadata value", "{\"__metadata__\":{\"format\":7}}", 0, LOUPE_ERROR_FORMAT,
                   "__metadata__ 'format'", "expected a string");
    expect_failure("duplicate", "{" ONE_F32("a", "[1]", 0, 4) "," ONE_F32("a", "[1]", 4, 8) "}", 8,
                   LOUPE_ERROR_FORMAT, "'a' appears twice", NULL);

    /* Layout of the data section. */
    expect_failure("overlap", "{" ONE_F32("a", "[2]", 0, 8) "," ONE_F32("b", "[2]", 4, 12) "}", 12,
                   LOUPE_ERROR_FORMAT, "tensor 'b': data_offsets [4, 12] overlap tensor 'a'", NULL);
    expect_failure("same range", "{" ONE_F32("a", "[2]", 0, 8) "," ONE_F32("b", "[2]", 0, 8) "}", 8,
                   LOUPE_ERROR_FORMAT, "overlap", NULL);
    expect_failure("gap", "{" ONE_F32("a", "[2]", 0, 8) "," ONE_F32("b", "[2]", 12, 20) "}", 20,
                   LOUPE_ERROR_FORMAT, "tensor 'b'", "gap after tensor 'a', which ends at 8");
    expect_failure("gap at start", "{" ONE_F32("a", "[2]", 4, 12) "}", 12, LOUPE_ERROR_FORMAT,
                   "tensor 'a'", "must begin at 0");
    expect_failure("data longer", "{" ONE_F32("a", "[2]", 0, 8) "}", 12, LOUPE_ERROR_FORMAT,
                   "data section has 12 bytes but the tensors cover only 8", NULL);
    expect_failure("data shorter", "{" ONE_F32("a", "[2]", 0, 8) "," ONE_F32("b", "[1]", 8, 12) "}", 10,
                   LOUPE_ERROR_FORMAT, "tensors need 12 bytes but the data section has only 10", NULL);
    expect_failure("byte size", "{" ONE_F32("transformer.h.0.ln_1.weight", "[32]", 96, 200) "}", 200,
                   LOUPE_ERROR_FORMAT,
                   "tensor 'transformer.h.0.ln_1.weight': data_offsets [96, 200] give 104 bytes, "
                   "shape [32] of F32 needs 128", NULL);
    expect_failure("end before begin", "{" ONE_F32("a", "[0]", 8, 4) "}", 8, LOUPE_ERROR_FORMAT,
                   "tensor 'a'", "end before they begin");
    expect_failure("fractional offset", "{" ONE_F32("a", "[1]", 0, 4.5) "}", 8, LOUPE_ERROR_FORMAT,
                   "tensor 'a'", "non-negative integers");
    expect_failure("one offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]}}", 4,
                   LOUPE_ERROR_FORMAT, "tensor 'a'", "[begin, end]");

    /* Entries. */
    expect_failure("unknown dtype", "{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4,
                   LOUPE_ERROR_FORMAT, "tensor 'w'", "unknown dtype \"F8_E4M3\"");
    expect_failure("Q4 dtype", "{\"w\":{\"dtype\":\"Q4\",\"shape\":[4],\"data_offsets\":[0,2]}}", 2,
                   LOUPE_ERROR_FORMAT, "unknown dtype", NULL);
    expect_failure("lower-case dtype", "{\"w\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                   LOUPE_ERROR_FORMAT, "unknown dtype", NULL);
    expect_failure("dtype missing", "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, LOUPE_ERROR_FORMAT,
                   "tensor 'w'", "dtype missing");
    expect_failure("entry not object", "{\"w\":[1]}", 0, LOUPE_ERROR_FORMAT, "tensor 'w'", "expected an object");
    expect_failure("negative dim", "{" ONE_F32("w", "[2,-1]", 0, 8) "}", 8, LOUPE_ERROR_FORMAT, "tensor 'w'",
                   "shape dim 1");
    expect_failure("fractional dim", "{" ONE_F32("w", "[1.5]", 0, 4) "}", 4, LOUPE_ERROR_FORMAT,
                   "tensor 'w'", "shape dim 0");
    expect_failure("string dim", "{" ONE_F32("w", "[\"2\"]", 0, 8) "}", 8, LOUPE_ERROR_FORMAT, "shape dim 0",
                   "a string");
    expect_failure("shape not array", "{" ONE_F32("w", "4", 0, 16) "}", 16, LOUPE_ERROR_FORMAT,
                   "tensor 'w'", "shape is a number");
    expect_failure("too many dims", "{" ONE_F32("w", "[1,1,1,1,1,1,1,1,1]", 0, 4) "}", 4, LOUPE_ERROR_LIMIT,
                   "tensor 'w'", "9 dims");
    expect_failure("numel overflow", "{" ONE_F32("w", "[4294967296,4294967296]", 0, 4) "}", 4,
                   LOUPE_ERROR_FORMAT, "tensor 'w'", "overflows");
    expect_failure("bytes overflow", "{" ONE_F32("w", "[2147483648,2147483648]", 0, 4) "}", 4,
                   LOUPE_ERROR_FORMAT, "tensor 'w'", "overflows");
    expect_failure("dim past 2^53", "{" ONE_F32("w", "[18014398509481984]", 0, 4) "}", 4,
                   LOUPE_ERROR_FORMAT, "tensor 'w'", "shape dim 0");
}

/* Valid corner cases: a scalar, an empty tensor, mixed dtypes in any order. */
static void test_valid_corners(void) {
    const char *header =
        "{\"b\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[4,10]},"
        "\"empty\":{\"dtype\":\"F16\",\"shape\":[0,5],\"data_offsets\":[10,10]},"
        "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
        "\"flag\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[10,12]}}";
    size_t size = 0;
    uint8_t *bytes = build_file(header, strlen(header), 12, &size);
    if (bytes == NULL) return;
    uint8_t *data = bytes + 8 + strlen(header);
    data[2] = 0x80;
    data[3] = 0x3F; /* s = 1.0f */
    put_u16(data + 4, 0xC020);  /* b[0] = -2.5 */
    put_u16(data + 8, 0x3F80);  /* b[2] = 1.0 */
    safetensors_file file;
    loupe_error error = {0};
    CHECK_MSG(safetensors_parse(bytes, size, "corners.safetensors", &file, &error) == LOUPE_OK, "%s",
              error.message);
    const tensor_view *scalar = safetensors_find(&file, "s");
    const tensor_view *b = safetensors_find(&file, "b");
    const tensor_view *empty = safetensors_find(&file, "empty");
    CHECK(scalar && scalar->n_dims == 0 && scalar->n_elements == 1 && scalar->data == data);
    CHECK(empty && empty->n_elements == 0 && empty->n_bytes == 0);
    CHECK(b && b->data == data + 4 && b->n_elements == 3);
    float values[3] = {0};
    if (scalar) CHECK(tensor_to_f32(scalar, values, &error) == LOUPE_OK && values[0] == 1.0f);
    if (b) {
        CHECK(tensor_to_f32(b, values, &error) == LOUPE_OK);
        CHECK(values[0] == -2.5f && values[1] == 0.0f && values[2] == 1.0f);
    }
    char text[64];
    int64_t shape[3] = {4, 16, 1000};
    tensor_shape_format(3, shape, text, sizeof text);
    CHECK(strcmp(text, "[4, 16, 1000]") == 0);
    tensor_shape_format(0, shape, text, sizeof text);
    CHECK(strcmp(text, "[]") == 0);
    tensor_shape_format(3, shape, text, 5);
    CHECK(strcmp(text, "[4, ") == 0);
    safetensors_close(&file);
    free(bytes);
}

int main(void) {
    test_model_file();
    test_reference_file();
    test_require_cpu_level("test_safetensors");
    /* the hand-worked halves through the level's body */
    test_f16();
    test_f16_bodies();
    test_bf16();
    test_f32_f64();
    test_framing_errors();
    test_header_errors();
    test_valid_corners();
    return test_finish("test_safetensors");
}
