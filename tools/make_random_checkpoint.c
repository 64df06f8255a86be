/*
 * make_random_checkpoint.c - writes a GPT-2 checkpoint with random weights in
 * the Hugging Face layout (config.json + model.safetensors), for benchmarks
 * at real sizes without downloading anything. Never commit its output.
 *
 * usage: make_random_checkpoint OUT_DIR [--dtype F32|F16|BF16] [--layers L]
 *        [--width C] [--heads H] [--vocab V] [--context P] [--seed S]
 * Defaults: GPT-2 small (12 layers, width 768, 12 heads, vocabulary 50257,
 * context 1024), F32. Weights ~ N(0, 0.02) as GPT-2's initialiser, norms 1,
 * biases 0. The folder gets no tokenizer: copy vocab.json and merges.txt in.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct spec {
    char name[96];
    int n_dims;
    int64_t shape[2];
    int kind; /* 0 random normal, 1 ones, 2 zeros */
} spec;

static uint64_t random_state = 1;

static double next_uniform(void) {
    uint64_t z = (random_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) * 0x1.0p-53;
}

static float next_normal(void) {
    return (float)(sqrt(-2.0 * log(next_uniform())) * cos(6.283185307179586 * next_uniform()));
}

/* float32 -> IEEE half, round to nearest even. */
static uint16_t to_f16(float value) {
    uint32_t bits;
    memcpy(&bits, &value, 4);
    uint32_t sign = (bits >> 16) & 0x8000, exponent = (bits >> 23) & 0xFF, mantissa = bits & 0x7FFFFF;
    if (exponent == 0xFF) return (uint16_t)(sign | 0x7C00 | (mantissa ? 0x200 : 0));
    int e = (int)exponent - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7C00);
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign;
        mantissa |= 0x800000;
        int shift = 14 - e;
        uint32_t half = mantissa >> shift, rest = mantissa & ((1u << shift) - 1), midpoint = 1u << (shift - 1);
        if (rest > midpoint || (rest == midpoint && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = (uint32_t)(e << 10) | (mantissa >> 13), rest = mantissa & 0x1FFF;
    if (rest > 0x1000 || (rest == 0x1000 && (half & 1))) half++;
    return (uint16_t)(sign | half);
}

/* float32 -> bfloat16, round to nearest even. */
static uint16_t to_bf16(float value) {
    uint32_t bits;
    memcpy(&bits, &value, 4);
    if ((bits & 0x7F800000) == 0x7F800000 && (bits & 0x7FFFFF)) return (uint16_t)((bits >> 16) | 0x40);
    bits += 0x7FFF + ((bits >> 16) & 1);
    return (uint16_t)(bits >> 16);
}

static int parse_option(int argc, char **argv, int *i, const char *name, long *value) {
    if (strcmp(argv[*i], name) != 0) return 0;
    if (*i + 1 >= argc) return -1;
    *value = strtol(argv[++*i], NULL, 10);
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: %s OUT_DIR [--dtype F32|F16|BF16] [--layers L] [--width C] [--heads H] "
                        "[--vocab V] [--context P] [--seed S]\n", argv[0]);
        return 2;
    }
    const char *out_dir = argv[1], *dtype = "F32";
    long L = 12, C = 768, H = 12, V = 50257, P = 1024, seed = 1;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--dtype") == 0 && i + 1 < argc) {
            dtype = argv[++i];
            continue;
        }
        int matched = parse_option(argc, argv, &i, "--layers", &L) | parse_option(argc, argv, &i, "--width", &C) |
                      parse_option(argc, argv, &i, "--heads", &H) | parse_option(argc, argv, &i, "--vocab", &V) |
                      parse_option(argc, argv, &i, "--context", &P) | parse_option(argc, argv, &i, "--seed", &seed);
        if (matched != 1) {
            fprintf(stderr, "make_random_checkpoint: bad option '%s'\n", argv[i]);
            return 2;
        }
    }
    size_t element = strcmp(dtype, "F32") == 0 ? 4 : 2;
    if (element == 2 && strcmp(dtype, "F16") != 0 && strcmp(dtype, "BF16") != 0) {
        fprintf(stderr, "make_random_checkpoint: --dtype must be F32, F16 or BF16\n");
        return 2;
    }
    if (L < 1 || C < 1 || H < 1 || C % H != 0 || V < 1 || P < 1) {
        fprintf(stderr, "make_random_checkpoint: sizes must be positive and width divisible by heads\n");
        return 2;
    }
    random_state = (uint64_t)seed;
    if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "make_random_checkpoint: %s: %s\n", out_dir, strerror(errno));
        return 1;
    }

    size_t n_specs = 4 + 12 * (size_t)L, count = 0;
    spec *specs = calloc(n_specs, sizeof *specs);
#define ADD(kind_, dims, d0, d1, ...)                                                   \
    do {                                                                                \
        spec *s = &specs[count++];                                                      \
        snprintf(s->name, sizeof s->name, __VA_ARGS__);                                 \
        s->n_dims = dims, s->shape[0] = d0, s->shape[1] = d1, s->kind = kind_;          \
    } while (0)
    ADD(0, 2, V, C, "transformer.wte.weight");
    ADD(0, 2, P, C, "transformer.wpe.weight");
    for (long l = 0; l < L; l++) {
        ADD(1, 1, C, 0, "transformer.h.%ld.ln_1.weight", l);
        ADD(2, 1, C, 0, "transformer.h.%ld.ln_1.bias", l);
        ADD(0, 2, C, 3 * C, "transformer.h.%ld.attn.c_attn.weight", l);
        ADD(2, 1, 3 * C, 0, "transformer.h.%ld.attn.c_attn.bias", l);
        ADD(0, 2, C, C, "transformer.h.%ld.attn.c_proj.weight", l);
        ADD(2, 1, C, 0, "transformer.h.%ld.attn.c_proj.bias", l);
        ADD(1, 1, C, 0, "transformer.h.%ld.ln_2.weight", l);
        ADD(2, 1, C, 0, "transformer.h.%ld.ln_2.bias", l);
        ADD(0, 2, C, 4 * C, "transformer.h.%ld.mlp.c_fc.weight", l);
        ADD(2, 1, 4 * C, 0, "transformer.h.%ld.mlp.c_fc.bias", l);
        ADD(0, 2, 4 * C, C, "transformer.h.%ld.mlp.c_proj.weight", l);
        ADD(2, 1, C, 0, "transformer.h.%ld.mlp.c_proj.bias", l);
    }
    ADD(1, 1, C, 0, "transformer.ln_f.weight");
    ADD(2, 1, C, 0, "transformer.ln_f.bias");
#undef ADD

    /* The header: every tensor's dtype, shape and offsets, padded to 8 bytes. */
    size_t header_capacity = 256 * count + 64, used = 0, offset = 0;
    char *header = malloc(header_capacity);
    used += (size_t)snprintf(header + used, header_capacity - used, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (size_t i = 0; i < count; i++) {
        size_t n = (size_t)specs[i].shape[0] * (size_t)(specs[i].n_dims == 2 ? specs[i].shape[1] : 1);
        used += (size_t)snprintf(header + used, header_capacity - used, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%lld",
                                 specs[i].name, dtype, (long long)specs[i].shape[0]);
        if (specs[i].n_dims == 2)
            used += (size_t)snprintf(header + used, header_capacity - used, ",%lld", (long long)specs[i].shape[1]);
        used += (size_t)snprintf(header + used, header_capacity - used, "],\"data_offsets\":[%zu,%zu]}", offset,
                                 offset + n * element);
        offset += n * element;
    }
    header[used++] = '}';
    while (used % 8 != 0) header[used++] = ' ';

    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", out_dir);
    FILE *file = fopen(path, "wb");
    if (file == NULL) {
        fprintf(stderr, "make_random_checkpoint: %s: %s\n", path, strerror(errno));
        return 1;
    }
    uint64_t header_length = used;
    unsigned char length_bytes[8];
    for (int b = 0; b < 8; b++) length_bytes[b] = (unsigned char)(header_length >> (8 * b));
    fwrite(length_bytes, 1, 8, file);
    fwrite(header, 1, used, file);
    for (size_t i = 0; i < count; i++) {
        size_t n = (size_t)specs[i].shape[0] * (size_t)(specs[i].n_dims == 2 ? specs[i].shape[1] : 1);
        unsigned char *bytes = malloc(n * element);
        for (size_t j = 0; j < n; j++) {
            float value = specs[i].kind == 0 ? 0.02f * next_normal() : specs[i].kind == 1 ? 1.0f : 0.0f;
            if (element == 4) memcpy(bytes + 4 * j, &value, 4);
            else {
                uint16_t half = strcmp(dtype, "F16") == 0 ? to_f16(value) : to_bf16(value);
                bytes[2 * j] = (unsigned char)half, bytes[2 * j + 1] = (unsigned char)(half >> 8);
            }
        }
        fwrite(bytes, 1, n * element, file);
        free(bytes);
    }
    if (fclose(file) != 0) {
        fprintf(stderr, "make_random_checkpoint: %s: write failed\n", path);
        return 1;
    }

    snprintf(path, sizeof path, "%s/config.json", out_dir);
    file = fopen(path, "w");
    if (file == NULL) return 1;
    fprintf(file,
            "{\n  \"architectures\": [\"GPT2LMHeadModel\"],\n  \"model_type\": \"gpt2\",\n"
            "  \"activation_function\": \"gelu_new\",\n  \"n_layer\": %ld,\n  \"n_embd\": %ld,\n"
            "  \"n_head\": %ld,\n  \"n_inner\": null,\n  \"n_positions\": %ld,\n  \"vocab_size\": %ld,\n"
            "  \"layer_norm_epsilon\": 1e-05,\n  \"tie_word_embeddings\": true,\n  \"dtype\": \"%s\"\n}\n",
            L, C, H, P, V, strcmp(dtype, "F32") == 0 ? "float32" : strcmp(dtype, "F16") == 0 ? "float16" : "bfloat16");
    fclose(file);
    free(header);
    free(specs);
    printf("%s: %zu tensors, %zu bytes of %s weights\n", out_dir, count, offset, dtype);
    return 0;
}
