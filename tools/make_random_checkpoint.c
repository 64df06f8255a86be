/*
 * make_random_checkpoint.c - writes a GPT-2 checkpoint with random weights in
 * the Hugging Face layout (config.json + model.safetensors), for benchmarks
 * at real sizes without downloading anything. Never commit its output.
 *
 * usage: make_random_checkpoint OUT_DIR [--arch FAMILY] [--dtype F32|F16|BF16]
 *        [--layers L] [--width C] [--heads H] [--kv-heads KV] [--head-dim D]
 *        [--inner I] [--vocab V] [--context P] [--seed S] [--std S] [--tied]
 * Defaults: GPT-2 small (12 layers, width 768, 12 heads, vocabulary 50257,
 * context 1024), F32. Weights ~ N(0, 0.02) as GPT-2's initialiser, norms 1,
 * biases 0. The folder gets no tokenizer: copy vocab.json and merges.txt in.
 *
 * --arch llama, mistral, qwen2, qwen3, gemma or gpt_neox writes that
 * family's tensors and config.json instead (KV defaults to H / 2 where it
 * divides, D to C / H, I to 4 C), every tensor random (biases N(0, 0.02),
 * norm weights 1 + N(0, 0.1); Gemma's N(0, 0.1)), and each family's
 * particular features switched on so a reference can check them: llama3
 * rope scaling (llama), a sliding window of 4 and linear scaling in
 * transformers 5's rope_parameters (mistral), q/k/v biases and a tied head
 * (qwen2), q/k norms (qwen3), scaled embeddings and a tied head (gemma),
 * rotary_pct 0.5 and the parallel residual (gpt_neox). --tied ties the
 * head to the embedding for any family (as Llama 3.2's small models).
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
    int kind; /* SPEC_RANDOM, ... */
} spec;

enum {
    SPEC_RANDOM,      /* N(0, 0.02) */
    SPEC_ONES,
    SPEC_ZEROS,
    SPEC_NEAR_ONE,    /* 1 + N(0, 0.1): a norm weight */
    SPEC_NEAR_ZERO,   /* N(0, 0.1): Gemma's norm weight, used as 1 + w */
};

/* The sizes of the checkpoint to write. */
typedef struct shape_options {
    long L, C, H, KV, D, I, V, P;
} shape_options;

/* One family's tensor names (NULL: the family lacks it) and traits. */
typedef struct family_layout {
    const char *name, *architecture;
    const char *embedding, *final_norm, *head, *prefix;
    const char *attn_norm, *mlp_norm, *q, *k, *v, *qkv, *o, *q_norm, *k_norm, *gate, *up, *down;
    int layer_norm;   /* LayerNorm (weight and bias) rather than RMSNorm */
    int qkv_bias, o_bias, mlp_bias, tied, norm_near_zero;
} family_layout;

#define LLAMA_NAMES                                                                                            \
    "model.embed_tokens", "model.norm", "lm_head", "model.layers.%ld.", "input_layernorm",                    \
        "post_attention_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", NULL,          \
        "self_attn.o_proj"
static const family_layout FAMILY_LAYOUTS[] = {
    {"llama", "LlamaForCausalLM", LLAMA_NAMES, NULL, NULL, "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj", 0, 0, 0, 0,
     0, 0},
    {"mistral", "MistralForCausalLM", LLAMA_NAMES, NULL, NULL, "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj", 0, 0,
     0, 0, 0, 0},
    {"qwen2", "Qwen2ForCausalLM", LLAMA_NAMES, NULL, NULL, "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj", 0, 1, 0,
     0, 1, 0},
    {"qwen3", "Qwen3ForCausalLM", LLAMA_NAMES, "self_attn.q_norm", "self_attn.k_norm", "mlp.gate_proj", "mlp.up_proj",
     "mlp.down_proj", 0, 0, 0, 0, 0, 0},
    {"gemma", "GemmaForCausalLM", LLAMA_NAMES, NULL, NULL, "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj", 0, 0, 0,
     0, 1, 1},
    {"gpt_neox", "GPTNeoXForCausalLM", "gpt_neox.embed_in", "gpt_neox.final_layer_norm", "embed_out",
     "gpt_neox.layers.%ld.", "input_layernorm", "post_attention_layernorm", NULL, NULL, NULL,
     "attention.query_key_value", "attention.dense", NULL, NULL, NULL, "mlp.dense_h_to_4h", "mlp.dense_4h_to_h", 1, 1,
     1, 1, 0, 0},
};
#undef LLAMA_NAMES

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

/* The family-specific part of config.json (after the common sizes). */
static void write_family_config(FILE *file, const family_layout *family) {
    const char *name = family->name;
    if (strcmp(name, "llama") == 0)
        fputs("  \"hidden_act\": \"silu\",\n  \"rms_norm_eps\": 1e-05,\n  \"attention_bias\": false,\n"
              "  \"mlp_bias\": false,\n  \"rope_theta\": 10000.0,\n"
              "  \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0,"
              " \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 16},\n", file);
    else if (strcmp(name, "mistral") == 0)
        fputs("  \"hidden_act\": \"silu\",\n  \"rms_norm_eps\": 1e-05,\n"
              "  \"sliding_window\": 4,\n"
              "  \"rope_parameters\": {\"rope_type\": \"linear\", \"factor\": 2.0, \"rope_theta\": 10000.0},\n",
              file);
    else if (strcmp(name, "qwen2") == 0)
        fputs("  \"hidden_act\": \"silu\",\n  \"rms_norm_eps\": 1e-06,\n"
              "  \"rope_theta\": 1000000.0,\n  \"use_sliding_window\": false,\n  \"sliding_window\": 32,\n",
              file);
    else if (strcmp(name, "qwen3") == 0)
        fputs("  \"hidden_act\": \"silu\",\n  \"rms_norm_eps\": 1e-06,\n  \"attention_bias\": false,\n"
              "  \"rope_theta\": 1000000.0,\n  \"use_sliding_window\": false,\n",
              file);
    else if (strcmp(name, "gemma") == 0)
        fputs("  \"hidden_act\": \"gelu\",\n  \"hidden_activation\": \"gelu_pytorch_tanh\",\n"
              "  \"rms_norm_eps\": 1e-06,\n  \"attention_bias\": false,\n"
              "  \"rope_theta\": 10000.0,\n", file);
    else
        fputs("  \"hidden_act\": \"gelu\",\n  \"layer_norm_eps\": 1e-05,\n"
              "  \"rotary_pct\": 0.5,\n  \"rotary_emb_base\": 10000,\n  \"use_parallel_residual\": true,\n"
              "  \"attention_bias\": true,\n", file);
}

/* Appends one tensor to specs; returns the new count. */
static size_t add_spec(spec *specs, size_t count, int kind, int n_dims, long d0, long d1, const char *prefix,
                       const char *name, const char *suffix) {
    spec *s = &specs[count];
    snprintf(s->name, sizeof s->name, "%s%s%s", prefix, name, suffix);
    s->n_dims = n_dims, s->shape[0] = d0, s->shape[1] = d1, s->kind = kind;
    return count + 1;
}

/* A linear layer `name` (out, in), with its bias when `bias`. */
static size_t add_linear(spec *specs, size_t count, const char *prefix, const char *name, long out, long in,
                         int bias) {
    if (name == NULL) return count;
    count = add_spec(specs, count, SPEC_RANDOM, 2, out, in, prefix, name, ".weight");
    return bias ? add_spec(specs, count, SPEC_RANDOM, 1, out, 0, prefix, name, ".bias") : count;
}

/* A norm `name` (width): weight, and bias for LayerNorm. */
static size_t add_norm(spec *specs, size_t count, const family_layout *family, const char *prefix, const char *name,
                       long width) {
    if (name == NULL) return count;
    count = add_spec(specs, count, family->norm_near_zero ? SPEC_NEAR_ZERO : SPEC_NEAR_ONE, 1, width, 0, prefix, name,
                     ".weight");
    return family->layer_norm ? add_spec(specs, count, SPEC_RANDOM, 1, width, 0, prefix, name, ".bias") : count;
}

/* Every tensor of a rotary family's checkpoint; returns their count. */
static size_t add_family_specs(spec *specs, const family_layout *family, const shape_options *s) {
    size_t count = add_spec(specs, 0, SPEC_RANDOM, 2, s->V, s->C, "", family->embedding, ".weight");
    long A = s->H * s->D, G = s->KV * s->D;
    for (long l = 0; l < s->L; l++) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, family->prefix, l);
        count = add_norm(specs, count, family, prefix, family->attn_norm, s->C);
        count = add_linear(specs, count, prefix, family->q, A, s->C, family->qkv_bias);
        count = add_linear(specs, count, prefix, family->k, G, s->C, family->qkv_bias);
        count = add_linear(specs, count, prefix, family->v, G, s->C, family->qkv_bias);
        count = add_linear(specs, count, prefix, family->qkv, 3 * A, s->C, family->qkv_bias);
        count = add_norm(specs, count, family, prefix, family->q_norm, s->D);
        count = add_norm(specs, count, family, prefix, family->k_norm, s->D);
        count = add_linear(specs, count, prefix, family->o, s->C, A, family->o_bias);
        count = add_norm(specs, count, family, prefix, family->mlp_norm, s->C);
        count = add_linear(specs, count, prefix, family->gate, s->I, s->C, family->mlp_bias);
        count = add_linear(specs, count, prefix, family->up, s->I, s->C, family->mlp_bias);
        count = add_linear(specs, count, prefix, family->down, s->C, s->I, family->mlp_bias);
    }
    count = add_norm(specs, count, family, "", family->final_norm, s->C);
    if (!family->tied) count = add_spec(specs, count, SPEC_RANDOM, 2, s->V, s->C, "", family->head, ".weight");
    return count;
}

static int parse_option(int argc, char **argv, int *i, const char *name, long *value) {
    if (strcmp(argv[*i], name) != 0) return 0;
    if (*i + 1 >= argc) return -1;
    *value = strtol(argv[++*i], NULL, 10);
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: %s OUT_DIR [--arch FAMILY] [--dtype F32|F16|BF16] [--layers L] [--width C] "
                        "[--heads H] [--kv-heads KV] [--head-dim D] [--inner I] [--vocab V] [--context P] "
                        "[--seed S] [--std S] [--tied]\n", argv[0]);
        return 2;
    }
    const char *out_dir = argv[1], *dtype = "F32", *arch = "gpt2";
    long L = 12, C = 768, H = 12, V = 50257, P = 1024, seed = 1, KV = 0, D = 0, I = 0;
    double std = 0.02;
    int tied = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--dtype") == 0 && i + 1 < argc) {
            dtype = argv[++i];
            continue;
        }
        if (strcmp(argv[i], "--arch") == 0 && i + 1 < argc) {
            arch = argv[++i];
            continue;
        }
        if (strcmp(argv[i], "--tied") == 0) {
            tied = 1;
            continue;
        }
        if (strcmp(argv[i], "--std") == 0 && i + 1 < argc) {
            std = strtod(argv[++i], NULL);
            continue;
        }
        int matched = parse_option(argc, argv, &i, "--layers", &L) | parse_option(argc, argv, &i, "--width", &C) |
                      parse_option(argc, argv, &i, "--heads", &H) | parse_option(argc, argv, &i, "--vocab", &V) |
                      parse_option(argc, argv, &i, "--context", &P) | parse_option(argc, argv, &i, "--seed", &seed) |
                      parse_option(argc, argv, &i, "--kv-heads", &KV) |
                      parse_option(argc, argv, &i, "--head-dim", &D) | parse_option(argc, argv, &i, "--inner", &I);
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
    const family_layout *family = NULL;
    for (size_t f = 0; f < sizeof FAMILY_LAYOUTS / sizeof FAMILY_LAYOUTS[0]; f++)
        if (strcmp(arch, FAMILY_LAYOUTS[f].name) == 0) family = &FAMILY_LAYOUTS[f];
    family_layout chosen;
    if (family != NULL && tied) {
        chosen = *family;
        chosen.tied = 1;
        family = &chosen;
    }
    if (family == NULL && strcmp(arch, "gpt2") != 0) {
        fprintf(stderr, "make_random_checkpoint: --arch must be gpt2, llama, mistral, qwen2, qwen3, gemma or "
                        "gpt_neox\n");
        return 2;
    }
    if (KV == 0) KV = family != NULL && family->qkv == NULL && H % 2 == 0 ? H / 2 : H;
    if (D == 0) D = C / H;
    if (I == 0) I = 4 * C;
    if (L < 1 || C < 1 || H < 1 || C % H != 0 || V < 1 || P < 1 || KV < 1 || H % KV != 0 || D < 2 || I < 1 ||
        !(std > 0) || (family != NULL && family->qkv != NULL && KV != H)) {
        fprintf(stderr, "make_random_checkpoint: sizes must be positive, width divisible by heads, heads by "
                        "key/value heads (equal for gpt_neox)\n");
        return 2;
    }
    shape_options shape = {L, C, H, KV, D, I, V, P};
    random_state = (uint64_t)seed;
    if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "make_random_checkpoint: %s: %s\n", out_dir, strerror(errno));
        return 1;
    }

    size_t n_specs = 4 + 20 * (size_t)L, count = 0;
    spec *specs = calloc(n_specs, sizeof *specs);
    if (family != NULL) {
        count = add_family_specs(specs, family, &shape);
    } else {
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
    }

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
            float value = specs[i].kind == SPEC_RANDOM      ? (float)std * next_normal()
                          : specs[i].kind == SPEC_ONES      ? 1.0f
                          : specs[i].kind == SPEC_NEAR_ONE  ? 1.0f + 0.1f * next_normal()
                          : specs[i].kind == SPEC_NEAR_ZERO ? 0.1f * next_normal()
                                                            : 0.0f;
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
    const char *dtype_name = strcmp(dtype, "F32") == 0 ? "float32" : strcmp(dtype, "F16") == 0 ? "float16" : "bfloat16";
    if (family != NULL) {
        fprintf(file,
                "{\n  \"architectures\": [\"%s\"],\n  \"model_type\": \"%s\",\n  \"num_hidden_layers\": %ld,\n"
                "  \"hidden_size\": %ld,\n  \"num_attention_heads\": %ld,\n  \"num_key_value_heads\": %ld,\n"
                "  \"head_dim\": %ld,\n  \"intermediate_size\": %ld,\n  \"vocab_size\": %ld,\n"
                "  \"max_position_embeddings\": %ld,\n",
                family->architecture, family->name, L, C, H, KV, D, I, V, P);
        write_family_config(file, family);
        fprintf(file, "  \"tie_word_embeddings\": %s,\n", family->tied ? "true" : "false");
        fprintf(file, "  \"dtype\": \"%s\"\n}\n", dtype_name);
    } else
    fprintf(file,
            "{\n  \"architectures\": [\"GPT2LMHeadModel\"],\n  \"model_type\": \"gpt2\",\n"
            "  \"activation_function\": \"gelu_new\",\n  \"n_layer\": %ld,\n  \"n_embd\": %ld,\n"
            "  \"n_head\": %ld,\n  \"n_inner\": null,\n  \"n_positions\": %ld,\n  \"vocab_size\": %ld,\n"
            "  \"layer_norm_epsilon\": 1e-05,\n  \"tie_word_embeddings\": true,\n  \"dtype\": \"%s\"\n}\n",
            L, C, H, P, V, dtype_name);
    fclose(file);
    free(header);
    free(specs);
    printf("%s: %zu tensors, %zu bytes of %s weights\n", out_dir, count, offset, dtype);
    return 0;
}
