/*
 * test_checkpoint.c - config.json and model folders: the single-file tiny
 * model, the sharded F16 demo model, and malformed folders and configs made
 * by copying the fixtures and editing them.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/checkpoint.h"
#include "io/hf_config.h"
#include "test_support.h"

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

/* text with the first `old` replaced by `new_text` (caller frees); NULL if
 * old is absent. */
static char *replace_first(const char *text, const char *old, const char *new_text) {
    const char *at = strstr(text, old);
    if (at == NULL) return NULL;
    size_t head = (size_t)(at - text), old_length = strlen(old), new_length = strlen(new_text);
    size_t tail = strlen(at + old_length);
    char *result = malloc(head + new_length + tail + 1);
    if (result == NULL) return NULL;
    memcpy(result, text, head);
    memcpy(result + head, new_text, new_length);
    memcpy(result + head + new_length, at + old_length, tail + 1);
    return result;
}

static uint64_t decode_u64_le(const unsigned char *p) {
    uint64_t value = 0;
    for (int i = 7; i >= 0; i--) value = (value << 8) | p[i];
    return value;
}

/* binary16 -> double by the textbook formula, independent of the library's
 * bit manipulation. */
static double half_by_formula(uint16_t bits) {
    int sign = bits >> 15, exponent = (bits >> 10) & 31, mantissa = bits & 1023;
    double magnitude;
    if (exponent == 0)
        magnitude = ldexp(mantissa, -24);
    else if (exponent == 31)
        magnitude = mantissa ? NAN : INFINITY;
    else
        magnitude = ldexp(1.0 + mantissa / 1024.0, exponent - 15);
    return sign ? -magnitude : magnitude;
}

/* Writes text as directory/name; returns 0 on success. */
static int write_text(const char *directory, const char *name, const char *text) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", directory, name);
    return test_write_file(path, text, strlen(text));
}

/* Copies a fixture file into directory under a new name. */
static int copy_into(const char *from, const char *directory, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", directory, name);
    return test_copy_file(from, path);
}

/* Opening `directory` must fail with status, the message holding both
 * substrings (the second may be NULL). */
static void expect_open_failure(const char *what, const char *directory, loupe_status expected,
                                const char *substring1, const char *substring2) {
    checkpoint ckpt;
    loupe_error error = {0};
    loupe_status status = checkpoint_open(directory, &ckpt, &error);
    CHECK_MSG(status == expected, "%s: status %d: %s", what, (int)status, error.message);
    CHECK_MSG(strstr(error.message, substring1) != NULL, "%s: '%s' not in: %s", what, substring1, error.message);
    if (substring2)
        CHECK_MSG(strstr(error.message, substring2) != NULL, "%s: '%s' not in: %s", what, substring2,
                  error.message);
    CHECK(ckpt.files == NULL && ckpt.n_files == 0 && ckpt.directory == NULL);
}

/* ------------------------------------------------------------------------
 * config.json
 * ---------------------------------------------------------------------- */

static char *read_fixture_config(const char *relative) {
    return test_read_file(test_data_path(relative), NULL);
}

static void test_config_fixtures(void) {
    hf_config config;
    loupe_error error = {0};
    char *text = read_fixture_config("gpt2-tiny-gelu/config.json");
    CHECK(text != NULL);
    if (text == NULL) return;
    CHECK_MSG(hf_config_parse(text, strlen(text), "config.json", &config, &error) == LOUPE_OK, "%s",
              error.message);
    CHECK(strcmp(config.model_type, "gpt2") == 0);
    CHECK(strcmp(config.architecture, "GPT2LMHeadModel") == 0);
    CHECK(strcmp(config.activation, "gelu_new") == 0);
    CHECK(strcmp(config.dtype, "float32") == 0);
    CHECK(config.n_layer == 3 && config.n_embd == 32 && config.n_head == 4);
    CHECK(config.n_inner == 128); /* null in the file: 4 x 32 */
    CHECK(config.n_vocab == 1000 && config.n_ctx == 64);
    CHECK(config.layer_norm_epsilon == 1e-5);
    CHECK(config.tie_word_embeddings && config.scale_attn_weights && !config.scale_attn_by_inverse_layer_idx);

    /* Generic aliases, torch_dtype, explicit n_inner, non-default flags. */
    char *step1 = replace_first(text, "\"n_layer\"", "\"num_hidden_layers\"");
    char *step2 = step1 ? replace_first(step1, "\"n_embd\"", "\"hidden_size\"") : NULL;
    char *step3 = step2 ? replace_first(step2, "\"n_head\"", "\"num_attention_heads\"") : NULL;
    char *step4 = step3 ? replace_first(step3, "\"n_positions\"", "\"max_position_embeddings\"") : NULL;
    char *step5 = step4 ? replace_first(step4, "\"n_inner\": null", "\"n_inner\": 100") : NULL;
    char *step6 = step5 ? replace_first(step5, "\"dtype\"", "\"torch_dtype\"") : NULL;
    char *step7 = step6 ? replace_first(step6, "\"scale_attn_by_inverse_layer_idx\": false",
                                        "\"scale_attn_by_inverse_layer_idx\": true") : NULL;
    char *step8 = step7 ? replace_first(step7, "\"layer_norm_epsilon\": 1e-05", "\"layer_norm_epsilon\": 0.001") : NULL;
    CHECK(step8 != NULL);
    if (step8) {
        CHECK_MSG(hf_config_parse(step8, strlen(step8), "aliases.json", &config, &error) == LOUPE_OK, "%s",
                  error.message);
        CHECK(config.n_layer == 3 && config.n_embd == 32 && config.n_head == 4 && config.n_ctx == 64);
        CHECK(config.n_inner == 100);
        CHECK(strcmp(config.dtype, "float32") == 0);
        CHECK(config.scale_attn_by_inverse_layer_idx);
        CHECK(config.layer_norm_epsilon == 0.001);
    }
    free(step1), free(step2), free(step3), free(step4), free(step5), free(step6), free(step7), free(step8);
    free(text);

    text = read_fixture_config("gpt2-tiny-relu/config.json");
    CHECK(text && hf_config_parse(text, strlen(text), "relu.json", &config, &error) == LOUPE_OK);
    CHECK(strcmp(config.activation, "relu") == 0);
    free(text);

    text = test_read_file(test_model_path("gpt2-demo/config.json"), NULL);
    CHECK(text && hf_config_parse(text, strlen(text), "demo.json", &config, &error) == LOUPE_OK);
    CHECK(config.n_layer == 6 && config.n_embd == 192 && config.n_head == 6 && config.n_vocab == 50257);
    CHECK(config.n_ctx == 512 && config.n_inner == 768 && strcmp(config.dtype, "float16") == 0);
    free(text);

    /* Defaults for the optional fields. */
    const char *minimal = "{\"model_type\":\"gpt2\",\"n_layer\":2,\"n_embd\":8,\"n_head\":2,"
                          "\"vocab_size\":10,\"n_positions\":16}";
    CHECK(hf_config_parse(minimal, strlen(minimal), "minimal.json", &config, &error) == LOUPE_OK);
    CHECK(strcmp(config.activation, "gelu_new") == 0 && config.architecture[0] == '\0' &&
          config.dtype[0] == '\0');
    CHECK(config.n_inner == 32 && config.layer_norm_epsilon == 1e-5 && config.tie_word_embeddings &&
          config.scale_attn_weights && !config.scale_attn_by_inverse_layer_idx);
}

/* Parses the tiny config with `old` replaced by `new_text`; checks status
 * and that the message names config.json and holds the substrings. */
static void expect_config_failure(const char *old, const char *new_text, loupe_status expected,
                                  const char *substring1, const char *substring2) {
    char *text = read_fixture_config("gpt2-tiny-gelu/config.json");
    char *edited = text ? replace_first(text, old, new_text) : NULL;
    CHECK_MSG(edited != NULL, "fixture lacks %s", old);
    if (edited) {
        hf_config config;
        loupe_error error = {0};
        loupe_status status = hf_config_parse(edited, strlen(edited), "config.json", &config, &error);
        CHECK_MSG(status == expected, "%s -> %s: status %d: %s", old, new_text, (int)status, error.message);
        CHECK_MSG(strncmp(error.message, "config.json: ", 13) == 0, "%s", error.message);
        CHECK_MSG(strstr(error.message, substring1) != NULL, "'%s' not in: %s", substring1, error.message);
        if (substring2)
            CHECK_MSG(strstr(error.message, substring2) != NULL, "'%s' not in: %s", substring2, error.message);
    }
    free(edited);
    free(text);
}

static void test_config_errors(void) {
    /* Not JSON: the byte offset of the stray character, found independently. */
    char *text = read_fixture_config("gpt2-tiny-gelu/config.json");
    char *broken = text ? replace_first(text, "\"n_head\": 4", "\"n_head\": 4 5") : NULL;
    if (broken) {
        size_t stray = (size_t)(strstr(broken, " 5,") + 1 - broken);
        char expected[64];
        snprintf(expected, sizeof expected, "byte offset %zu", stray);
        hf_config config;
        loupe_error error = {0};
        CHECK(hf_config_parse(broken, strlen(broken), "config.json", &config, &error) == LOUPE_ERROR_FORMAT);
        CHECK_MSG(strstr(error.message, "invalid JSON") && strstr(error.message, expected), "%s vs %s",
                  error.message, expected);
        CHECK(hf_config_parse(text, 10, "config.json", &config, &error) == LOUPE_ERROR_FORMAT);
        CHECK(strstr(error.message, "invalid JSON") != NULL);
        CHECK(hf_config_parse("[1]", 3, "config.json", &config, &error) == LOUPE_ERROR_FORMAT);
        CHECK(strstr(error.message, "expected an object") != NULL);
    }
    free(broken);
    free(text);

    expect_config_failure("\"n_layer\": 3,", "", LOUPE_ERROR_FORMAT, "n_layer missing", "num_hidden_layers");
    expect_config_failure("\"vocab_size\": 1000", "\"vocab\": 1000", LOUPE_ERROR_FORMAT, "vocab_size missing", NULL);
    expect_config_failure("\"n_layer\": 3", "\"n_layer\": null", LOUPE_ERROR_FORMAT, "n_layer missing", NULL);
    expect_config_failure("\"n_embd\": 32", "\"n_embd\": 30", LOUPE_ERROR_FORMAT, "n_embd 30", "n_head 4");
    expect_config_failure("\"model_type\": \"gpt2\"", "\"model_type\": \"llama\"", LOUPE_ERROR_UNSUPPORTED,
                          "model_type \"llama\"", "not supported");
    expect_config_failure("\"model_type\": \"gpt2\",", "", LOUPE_ERROR_FORMAT, "model_type missing", NULL);
    expect_config_failure("\"model_type\": \"gpt2\"", "\"model_type\": 2", LOUPE_ERROR_FORMAT, "model_type",
                          "a number");
    expect_config_failure("\"n_layer\": 3", "\"n_layer\": 1025", LOUPE_ERROR_LIMIT, "n_layer", "1024");
    expect_config_failure("\"n_embd\": 32", "\"n_embd\": 131072", LOUPE_ERROR_LIMIT, "n_embd", "65536");
    expect_config_failure("\"vocab_size\": 1000", "\"vocab_size\": 1e12", LOUPE_ERROR_LIMIT, "vocab_size", NULL);
    expect_config_failure("\"n_positions\": 64", "\"n_positions\": 2000000", LOUPE_ERROR_LIMIT, "n_positions", NULL);
    expect_config_failure("\"n_head\": 4", "\"n_head\": 4096", LOUPE_ERROR_LIMIT, "n_head", NULL);
    expect_config_failure("\"n_inner\": null", "\"n_inner\": 1000000", LOUPE_ERROR_LIMIT, "n_inner", NULL);
    expect_config_failure("\"n_head\": 4", "\"n_head\": \"4\"", LOUPE_ERROR_FORMAT, "n_head is a string", NULL);
    expect_config_failure("\"n_layer\": 3", "\"n_layer\": 0", LOUPE_ERROR_FORMAT, "n_layer", "positive integer");
    expect_config_failure("\"n_layer\": 3", "\"n_layer\": -3", LOUPE_ERROR_FORMAT, "n_layer", "positive integer");
    expect_config_failure("\"n_layer\": 3", "\"n_layer\": 2.5", LOUPE_ERROR_FORMAT, "n_layer", "positive integer");
    expect_config_failure("\"tie_word_embeddings\": true", "\"tie_word_embeddings\": 1", LOUPE_ERROR_FORMAT,
                          "tie_word_embeddings", "true or false");
    expect_config_failure("\"layer_norm_epsilon\": 1e-05", "\"layer_norm_epsilon\": \"small\"", LOUPE_ERROR_FORMAT,
                          "layer_norm_epsilon", NULL);
    expect_config_failure("\"layer_norm_epsilon\": 1e-05", "\"layer_norm_epsilon\": -1", LOUPE_ERROR_FORMAT,
                          "layer_norm_epsilon", NULL);
    expect_config_failure("\"activation_function\": \"gelu_new\"", "\"activation_function\": [1]",
                          LOUPE_ERROR_FORMAT, "activation_function", "an array");
    expect_config_failure("\"GPT2LMHeadModel\"", "7", LOUPE_ERROR_FORMAT, "architectures[0]", NULL);
    expect_config_failure("\"dtype\": \"float32\"", "\"dtype\": 32", LOUPE_ERROR_FORMAT, "dtype", NULL);
}

/* ------------------------------------------------------------------------
 * Checkpoints that open
 * ---------------------------------------------------------------------- */

static void test_single_file(void) {
    const char *directory = test_data_path("gpt2-tiny-gelu");
    char *directory_copy = strdup(directory);
    char model_path[4096];
    snprintf(model_path, sizeof model_path, "%s/model.safetensors", directory_copy);
    size_t file_size = 0;
    char *raw = test_read_file(model_path, &file_size);
    CHECK(raw != NULL && directory_copy != NULL);
    if (raw == NULL || directory_copy == NULL) {
        free(raw);
        free(directory_copy);
        return;
    }
    checkpoint ckpt;
    loupe_error error = {0};
    loupe_status status = checkpoint_open(directory_copy, &ckpt, &error);
    CHECK_MSG(status == LOUPE_OK, "%s", error.message);
    if (status == LOUPE_OK) {
        CHECK(ckpt.n_files == 1 && ckpt.files[0].n_tensors == 40);
        /* Stored bytes: everything after the 8-byte length and the header. */
        CHECK(ckpt.stored_bytes == (int64_t)(file_size - 8 - decode_u64_le((const unsigned char *)raw)));

        const int64_t ln_shape[1] = {32};
        const float *with_prefix = NULL, *without_prefix = NULL;
        float *owned = (float *)1;
        CHECK(checkpoint_bind_f32(&ckpt, "transformer.h.0.ln_1.weight", 1, ln_shape, &with_prefix, &owned,
                                  &error) == LOUPE_OK);
        CHECK(owned == NULL); /* F32 at an aligned offset: used in place */
        CHECK(checkpoint_bind_f32(&ckpt, "h.0.ln_1.weight", 1, ln_shape, &without_prefix, &owned, &error) ==
              LOUPE_OK);
        CHECK(owned == NULL && with_prefix != NULL && with_prefix == without_prefix);
        /* The bytes in the file, at the header's data_offsets [17024, 17152]. */
        size_t at = 8 + decode_u64_le((const unsigned char *)raw) + 17024;
        CHECK(with_prefix && memcmp(with_prefix, raw + at, 128) == 0);
        CHECK(checkpoint_find(&ckpt, "wte.weight") == checkpoint_find(&ckpt, "transformer.wte.weight"));
        CHECK(checkpoint_find(&ckpt, "wte.weight") != NULL);
        CHECK(checkpoint_find(&ckpt, "lm_head.weight") == NULL); /* tied: not stored */
        CHECK(checkpoint_find(&ckpt, "transformer.wte") == NULL);

        /* Shape mismatch: the error names tensor, expected and found shapes. */
        const int64_t transposed[2] = {96, 32};
        const float *data = (const float *)1;
        owned = (float *)1;
        CHECK(checkpoint_bind_f32(&ckpt, "h.0.attn.c_attn.weight", 2, transposed, &data, &owned, &error) ==
              LOUPE_ERROR_FORMAT);
        CHECK(data == NULL && owned == NULL);
        CHECK_MSG(strstr(error.message, "transformer.h.0.attn.c_attn.weight") &&
                      strstr(error.message, "expected shape [96, 32], found [32, 96]") &&
                      strstr(error.message, "model.safetensors"),
                  "%s", error.message);
        const int64_t flat[1] = {3072};
        CHECK(checkpoint_bind_f32(&ckpt, "h.0.attn.c_attn.weight", 1, flat, &data, &owned, &error) ==
              LOUPE_ERROR_FORMAT);
        CHECK(strstr(error.message, "expected shape [3072], found [32, 96]") != NULL);

        /* Missing tensor. */
        CHECK(checkpoint_bind_f32(&ckpt, "h.99.ln_1.weight", 1, ln_shape, &data, &owned, &error) ==
              LOUPE_ERROR_FORMAT);
        CHECK_MSG(strstr(error.message, "'h.99.ln_1.weight' not found") && strstr(error.message, directory_copy),
                  "%s", error.message);
        CHECK(checkpoint_bind_f32(&ckpt, "h.0.ln_1.weight", 9, ln_shape, &data, &owned, &error) ==
              LOUPE_ERROR_ARGUMENT);
    }
    checkpoint_close(&ckpt);
    checkpoint_close(&ckpt);
    free(raw);
    free(directory_copy);
}

/* The demo model: two F16 shards named by model.safetensors.index.json. */
static void test_sharded(void) {
    char *directory = strdup(test_model_path("gpt2-demo"));
    char *index_path = directory ? strdup(test_model_path("gpt2-demo/model.safetensors.index.json")) : NULL;
    char *index_text = index_path ? test_read_file(index_path, NULL) : NULL;
    CHECK(index_text != NULL);
    checkpoint ckpt;
    loupe_error error = {0};
    loupe_status status = directory ? checkpoint_open(directory, &ckpt, &error) : LOUPE_ERROR_MEMORY;
    CHECK_MSG(status == LOUPE_OK, "%s", error.message);
    if (status == LOUPE_OK && index_text) {
        CHECK(ckpt.n_files == 2);
        /* 6 layers x 12 + wte, wpe, ln_f.weight, ln_f.bias. */
        CHECK(ckpt.files[0].n_tensors + ckpt.files[1].n_tensors == 6 * 12 + 4);
        /* The index's metadata.total_size, written by Hugging Face. */
        const char *total = strstr(index_text, "\"total_size\":");
        CHECK(total && ckpt.stored_bytes == strtoll(total + strlen("\"total_size\":"), NULL, 10));

        const tensor_view *wte = checkpoint_find(&ckpt, "wte.weight");
        CHECK(wte && wte->dtype == TENSOR_DTYPE_F16 && strstr(wte->file, "model-00001-of-00002.safetensors"));
        const int64_t wte_shape[2] = {50257, 192};
        const float *data = NULL;
        float *owned = NULL;
        CHECK_MSG(checkpoint_bind_f32(&ckpt, "wte.weight", 2, wte_shape, &data, &owned, &error) == LOUPE_OK,
                  "%s", error.message);
        CHECK(owned != NULL && data == owned); /* F16: converted copy */
        if (owned && wte) {
            const int64_t probes[] = {0, 1, 191, 192, 256 * 192 + 7, 50256 * 192 + 191};
            for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
                const uint8_t *p = wte->data + 2 * probes[i];
                double expected = half_by_formula((uint16_t)(p[0] | p[1] << 8));
                CHECK_MSG((double)data[probes[i]] == expected, "wte[%lld]: %g vs %g", (long long)probes[i],
                          data[probes[i]], expected);
            }
            /* Trained weights: finite and not all zero. */
            int finite = 1, nonzero = 0;
            for (int64_t i = 0; i < 50257 * 192; i++) {
                finite &= isfinite(data[i]) != 0;
                nonzero += data[i] != 0.0f;
            }
            CHECK(finite && nonzero > 50257 * 192 / 2);
        }
        free(owned);

        const int64_t qkv_shape[2] = {192, 576};
        owned = NULL;
        CHECK(checkpoint_bind_f32(&ckpt, "transformer.h.5.attn.c_attn.weight", 2, qkv_shape, &data, &owned,
                                  &error) == LOUPE_OK);
        CHECK(owned != NULL);
        free(owned);
    }
    checkpoint_close(&ckpt);
    free(index_text);
    free(index_path);
    free(directory);
}

/* ------------------------------------------------------------------------
 * Folders that must not open
 * ---------------------------------------------------------------------- */

static void test_bad_folders(void) {
    char *root = test_make_temp_dir();
    CHECK(root != NULL);
    if (root == NULL) return;
    char directory[4096];
    const char *tiny_model = strdup(test_data_path("gpt2-tiny-gelu/model.safetensors"));
    const char *tiny_reference = strdup(test_data_path("gpt2-tiny-gelu/reference.safetensors"));
    char *demo_index = test_read_file(test_model_path("gpt2-demo/model.safetensors.index.json"), NULL);
    CHECK(tiny_model && tiny_reference && demo_index);

    /* An empty folder: both file names in the message. */
    snprintf(directory, sizeof directory, "%s/empty", root);
    mkdir(directory, 0700);
    expect_open_failure("empty", directory, LOUPE_ERROR_IO, "model.safetensors.index.json", directory);
    expect_open_failure("empty", directory, LOUPE_ERROR_IO, "neither model.safetensors nor", NULL);

    /* The demo index next to only its first shard. */
    snprintf(directory, sizeof directory, "%s/missing-shard", root);
    mkdir(directory, 0700);
    CHECK(write_text(directory, "model.safetensors.index.json", demo_index) == 0);
    CHECK(copy_into(test_model_path("gpt2-demo/model-00001-of-00002.safetensors"), directory,
                    "model-00001-of-00002.safetensors") == 0);
    expect_open_failure("missing shard", directory, LOUPE_ERROR_IO, "model-00002-of-00002.safetensors",
                        "cannot open");

    /* The demo index with wte pointed at the wrong shard. */
    snprintf(directory, sizeof directory, "%s/wrong-shard", root);
    mkdir(directory, 0700);
    char *wrong = replace_first(demo_index, "\"transformer.wte.weight\": \"model-00001-of-00002.safetensors\"",
                                "\"transformer.wte.weight\": \"model-00002-of-00002.safetensors\"");
    CHECK(wrong != NULL);
    if (wrong) {
        CHECK(write_text(directory, "model.safetensors.index.json", wrong) == 0);
        CHECK(copy_into(test_model_path("gpt2-demo/model-00001-of-00002.safetensors"), directory,
                        "model-00001-of-00002.safetensors") == 0);
        CHECK(copy_into(test_model_path("gpt2-demo/model-00002-of-00002.safetensors"), directory,
                        "model-00002-of-00002.safetensors") == 0);
        expect_open_failure("wrong shard", directory, LOUPE_ERROR_FORMAT, "'transformer.wte.weight'",
                            "model-00002-of-00002.safetensors, but that shard has no such tensor");
    }
    free(wrong);

    /* Small shards made from the tiny fixture files. */
    snprintf(directory, sizeof directory, "%s/small", root);
    mkdir(directory, 0700);
    CHECK(copy_into(tiny_model, directory, "a.safetensors") == 0);
    CHECK(copy_into(tiny_model, directory, "b.safetensors") == 0);
    CHECK(copy_into(tiny_reference, directory, "c.safetensors") == 0);

    /* A tensor in two shards. */
    write_text(directory, "model.safetensors.index.json",
               "{\"weight_map\":{\"transformer.wte.weight\":\"a.safetensors\",\"transformer.wpe.weight\":\"b.safetensors\"}}");
    expect_open_failure("duplicate", directory, LOUPE_ERROR_FORMAT, "is also in", "a.safetensors");

    /* Shards named outside the folder. */
    write_text(directory, "model.safetensors.index.json",
               "{\"weight_map\":{\"transformer.wte.weight\":\"../small/a.safetensors\"}}");
    expect_open_failure("path", directory, LOUPE_ERROR_FORMAT, "\"../small/a.safetensors\"", "not a plain file name");
    write_text(directory, "model.safetensors.index.json", "{\"weight_map\":{\"transformer.wte.weight\":\"..\"}}");
    expect_open_failure("dotdot", directory, LOUPE_ERROR_FORMAT, "not a plain file name", NULL);

    /* Index structure. */
    write_text(directory, "model.safetensors.index.json", "{\"weight_map\":{\"hidden.0\":7}}");
    expect_open_failure("shard number", directory, LOUPE_ERROR_FORMAT, "'hidden.0'", "expected a file name");
    write_text(directory, "model.safetensors.index.json", "{\"metadata\":{}}");
    expect_open_failure("no weight_map", directory, LOUPE_ERROR_FORMAT, "weight_map", "missing");
    write_text(directory, "model.safetensors.index.json", "{\"weight_map\":{}}");
    expect_open_failure("empty weight_map", directory, LOUPE_ERROR_FORMAT, "lists no tensors", NULL);
    write_text(directory, "model.safetensors.index.json", "{\"weight_map\":{\"a\":\"a.safetensors\",}}");
    expect_open_failure("index not JSON", directory, LOUPE_ERROR_FORMAT, "model.safetensors.index.json",
                        "invalid JSON at byte offset");

    /* A valid small index: c.safetensors holds the reference tensors. */
    write_text(directory, "model.safetensors.index.json",
               "{\"weight_map\":{\"hidden.0\":\"c.safetensors\",\"transformer.wte.weight\":\"a.safetensors\"}}");
    checkpoint ckpt;
    loupe_error error = {0};
    CHECK_MSG(checkpoint_open(directory, &ckpt, &error) == LOUPE_OK, "%s", error.message);
    if (ckpt.n_files == 2) {
        /* Integer tensors cannot be bound as float. */
        const int64_t ids_shape[1] = {16};
        const float *data = NULL;
        float *owned = NULL;
        CHECK(checkpoint_bind_f32(&ckpt, "input_ids", 1, ids_shape, &data, &owned, &error) ==
              LOUPE_ERROR_UNSUPPORTED);
        CHECK(data == NULL && owned == NULL);
        CHECK_MSG(strstr(error.message, "input_ids") && strstr(error.message, "I32") &&
                      strstr(error.message, "c.safetensors"),
                  "%s", error.message);
    }
    checkpoint_close(&ckpt);

    /* F32 at an offset that is not a multiple of 4 is converted, not cast:
     * a 1-byte U8 tensor first, then one F32 of 1.5 (0x3FC00000). */
    snprintf(directory, sizeof directory, "%s/unaligned", root);
    mkdir(directory, 0700);
    const char *header = "{\"flag\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                         "\"h.0.w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[1,5]}}";
    size_t header_length = strlen(header);
    unsigned char file_bytes[256] = {(unsigned char)header_length};
    memcpy(file_bytes + 8, header, header_length);
    const unsigned char data_section[5] = {1, 0x00, 0x00, 0xC0, 0x3F};
    memcpy(file_bytes + 8 + header_length, data_section, sizeof data_section);
    char unaligned_path[sizeof directory + 32];
    snprintf(unaligned_path, sizeof unaligned_path, "%s/model.safetensors", directory);
    CHECK(test_write_file(unaligned_path, file_bytes, 8 + header_length + sizeof data_section) == 0);
    CHECK_MSG(checkpoint_open(directory, &ckpt, &error) == LOUPE_OK, "%s", error.message);
    if (ckpt.n_files == 1) {
        const int64_t one[1] = {1};
        const float *data = NULL;
        float *owned = NULL;
        CHECK(checkpoint_bind_f32(&ckpt, "transformer.h.0.w", 1, one, &data, &owned, &error) == LOUPE_OK);
        CHECK((8 + header_length + 1) % 4 != 0); /* the precondition of this case */
        CHECK(owned != NULL && data == owned && data[0] == 1.5f);
        free(owned);
        CHECK(ckpt.stored_bytes == 5);
    }
    checkpoint_close(&ckpt);

    /* A broken shard: its own error comes through. */
    snprintf(directory, sizeof directory, "%s/broken", root);
    mkdir(directory, 0700);
    const unsigned char short_file[10] = {16, 0, 0, 0, 0, 0, 0, 0, '{', '}'}; /* says 16, has 2 */
    char short_path[sizeof directory + 32];
    snprintf(short_path, sizeof short_path, "%s/model.safetensors", directory);
    CHECK(test_write_file(short_path, short_file, sizeof short_file) == 0);
    expect_open_failure("broken single", directory, LOUPE_ERROR_FORMAT, "model.safetensors", "runs past the end");

    test_remove_tree(root);
    free(root);
    free((void *)tiny_model);
    free((void *)tiny_reference);
    free(demo_index);
}

int main(void) {
    test_config_fixtures();
    test_config_errors();
    test_single_file();
    test_sharded();
    test_bad_folders();
    return test_finish("test_checkpoint");
}
