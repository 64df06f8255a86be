/*
 * test_finetune.c - the fine-tuning trainer's mechanics (include/loupe.h's
 * loupe_finetuner) on the tiny GPT-2 models of tests/data:
 *   - the lens rows' syntax against hand-worked sets;
 *   - gradient accumulation: two micro-batches of one window each make the
 *     same step as one micro-batch of both (the step takes their mean);
 *   - a run checkpointed after two steps and resumed in a new trainer ends
 *     with the same bits as the run straight through, and the checkpoint
 *     holds the step and the data position;
 *   - checkpoints of other settings, another model, other tensors, or no
 *     checkpoint at all are refused naming the file and the field, and a
 *     refused load leaves the trainer as it was;
 *   - the model folder: written after no step it holds the input's tensor
 *     names and shapes in F32 with the input's values (a BF16 input widened
 *     exactly, the sharded F16 demo model in one file), config.json with dtype float32 and the tokenizer files
 *     byte for byte; it reloads with loupe_model_open to the input's logits;
 *     written after one step, the reloaded model's final cross-entropy,
 *     computed here in double from loupe_model_forward's logits, is the
 *     trainer's evaluate's; a folder of another model is refused, one
 *     written by the trainer is written again.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/json.h"
#include "io/safetensors.h"
#include "loupe.h"
#include "test_support.h"
#include "train/finetune_checkpoint.h"
#include "train/lens_row_set.h"

enum { T = 12, MAX_WINDOWS = 4 };

/* Windows (n, T+1) of random ids below V from the seed. */
static void random_windows(int32_t *ids, int n, int V, uint64_t seed) {
    uint64_t state = seed;
    for (int k = 0; k < n * (T + 1); k++) ids[k] = (int32_t)(test_random_unit(&state) * V);
}

static loupe_finetune_params small_params(void) {
    loupe_finetune_params p = loupe_finetune_default_params();
    p.context = T;
    p.batch_windows = 2;
    p.steps = 4;
    p.warmup_steps = 1;
    p.lr = 1e-2;
    p.lens_weight = 0.5;
    p.lens_rows = "0,2";
    return p;
}

/* The bytes of DIR/NAME (caller frees), NULL when absent. */
static char *folder_file(const char *directory, const char *name, size_t *size) {
    char path[4096];
    CHECK(snprintf(path, sizeof path, "%s/%s", directory, name) < (int)sizeof path);
    return test_read_file(path, size);
}

/* Whether two files hold the same bytes. */
static bool same_file(const char *a, const char *b) {
    size_t na = 0, nb = 0;
    char *x = test_read_file(a, &na), *y = test_read_file(b, &nb);
    bool same = x != NULL && y != NULL && na == nb && memcmp(x, y, na) == 0;
    free(x), free(y);
    return same;
}

/* ------------------------------------------------------------------------
 * Lens rows
 * ---------------------------------------------------------------------- */

/* Parses text over L = 6 rows and compares with the rows listed in want
 * (a string of digits, "" for an error expected). */
static void check_rows(const char *text, const char *want) {
    bool rows[6];
    int n = -1;
    loupe_error error;
    loupe_status status = lens_row_set_parse(text, 6, rows, &n, &error);
    if (want[0] == '\0') {
        CHECK_MSG(status == LOUPE_ERROR_ARGUMENT && strstr(error.message, "lens rows") != NULL, "'%s' accepted", text);
        return;
    }
    CHECK_MSG(status == LOUPE_OK, "'%s': %s", text, error.message);
    bool expected[6] = {false};
    for (const char *c = want; *c; c++) expected[*c - '0'] = true;
    CHECK_MSG(memcmp(rows, expected, sizeof rows) == 0 && n == (int)strlen(want), "'%s' is not rows %s", text, want);
}

static void test_lens_rows(void) {
    check_rows(NULL, "012345");
    check_rows("", "012345");
    check_rows("0:3", "012");
    check_rows(":2", "01");
    check_rows("4:", "45");
    check_rows(":", "012345");
    check_rows("-2:", "45");
    check_rows("1:-1", "1234");
    check_rows("1,3", "13");
    check_rows("5,0:2, 3", "0135");
    check_rows("-1", "5");
    check_rows("-6", "0");
    check_rows("2:100", "2345"); /* slice ends clamp, as in Python */
    check_rows("3:1", "");       /* selects nothing */
    check_rows("6", "");         /* row L is the output, no lens row */
    check_rows("-7", "");
    check_rows("a", "");
    check_rows("1:2:3", "");
    check_rows("1,", "");
    check_rows("1.5", "");
}

/* ------------------------------------------------------------------------
 * Steps, accumulation and checkpoints
 * ---------------------------------------------------------------------- */

static void test_accumulation(const loupe_model *model, int V, const char *work) {
    int32_t ids[2 * (T + 1)];
    random_windows(ids, 2, V, 11);
    loupe_error error;
    loupe_finetune_params p = small_params();
    p.accumulation = 2;
    loupe_finetuner *split = NULL, *whole = NULL;
    if (loupe_finetuner_create(model, &p, &split, &error) != LOUPE_OK) {
        CHECK_MSG(false, "create: %s", error.message);
        return;
    }
    p.accumulation = 1;
    CHECK(loupe_finetuner_create(model, &p, &whole, &error) == LOUPE_OK);
    loupe_finetune_losses a, b;
    CHECK(loupe_finetuner_add(split, ids, 1, &error) == LOUPE_OK);
    CHECK(loupe_finetuner_add(split, ids + T + 1, 1, &error) == LOUPE_OK);
    CHECK(loupe_finetuner_pending(split) == 2);
    CHECK(loupe_finetuner_step(split, &a, &error) == LOUPE_OK);
    CHECK(loupe_finetuner_add(whole, ids, 2, &error) == LOUPE_OK);
    CHECK(loupe_finetuner_step(whole, &b, &error) == LOUPE_OK);
    CHECK_MSG(fabs(a.loss - b.loss) <= 1e-5 * fabs(b.loss), "loss %.9g vs %.9g", a.loss, b.loss);
    CHECK_MSG(fabs(a.grad_norm - b.grad_norm) <= 1e-5 * b.grad_norm, "norm %.9g vs %.9g", a.grad_norm, b.grad_norm);
    CHECK(a.lr == b.lr && a.lr == p.lr); /* step 0 of a 1-step warm-up: the peak */
    /* the parameters after the step, through the model folder */
    char split_dir[4096], whole_dir[4096];
    CHECK(snprintf(split_dir, sizeof split_dir, "%s/split", work) < (int)sizeof split_dir);
    CHECK(snprintf(whole_dir, sizeof whole_dir, "%s/whole", work) < (int)sizeof whole_dir);
    CHECK(loupe_finetuner_write_model(split, split_dir, NULL, &error) == LOUPE_OK);
    CHECK(loupe_finetuner_write_model(whole, whole_dir, NULL, &error) == LOUPE_OK);
    safetensors_file x, y;
    if (safetensors_open(strcat(split_dir, "/model.safetensors"), &x, &error) == LOUPE_OK) {
        if (safetensors_open(strcat(whole_dir, "/model.safetensors"), &y, &error) == LOUPE_OK) {
            double worst = 0;
            for (size_t i = 0; i < x.n_tensors && i < y.n_tensors; i++) {
                const float *u = (const float *)x.tensors[i].data, *w = (const float *)y.tensors[i].data;
                for (int64_t k = 0; k < x.tensors[i].n_elements; k++) {
                    double d = fabs((double)u[k] - w[k]);
                    worst = d > worst ? d : worst;
                }
            }
            CHECK_MSG(worst <= 1e-6, "accumulated step differs from the whole batch's by %.3g", worst);
            safetensors_close(&y);
        }
        safetensors_close(&x);
    }
    /* steps past the run's and steps with nothing pending are refused */
    CHECK(loupe_finetuner_step(whole, &b, &error) == LOUPE_ERROR_ARGUMENT);
    CHECK(loupe_finetuner_add(whole, ids, 3, &error) == LOUPE_ERROR_ARGUMENT);
    loupe_finetuner_free(split);
    loupe_finetuner_free(whole);
}

/* Runs steps [from, to) of the 4-step run, window pairs drawn from seed 100 + step. */
static void run_steps(loupe_finetuner *f, int V, int from, int to, loupe_finetune_losses *last) {
    loupe_error error;
    for (int s = from; s < to; s++) {
        int32_t ids[2 * (T + 1)];
        random_windows(ids, 2, V, 100 + (uint64_t)s);
        CHECK(loupe_finetuner_add(f, ids, 2, &error) == LOUPE_OK);
        CHECK(loupe_finetuner_step(f, last, &error) == LOUPE_OK);
    }
}

static void test_resume(const loupe_model *model, const loupe_model *other_model, int V, const char *work) {
    loupe_error error;
    loupe_finetune_params p = small_params();
    loupe_finetuner *straight = NULL, *first = NULL, *second = NULL;
    if (loupe_finetuner_create(model, &p, &straight, &error) != LOUPE_OK) {
        CHECK_MSG(false, "create: %s", error.message);
        return;
    }
    loupe_finetune_losses a, b;
    run_steps(straight, V, 0, 4, &a);
    CHECK(loupe_finetuner_steps_done(straight) == 4);

    char checkpoint[4096], straight_dir[4096], resumed_dir[4096];
    CHECK(snprintf(checkpoint, sizeof checkpoint, "%s/checkpoint.safetensors", work) < (int)sizeof checkpoint);
    CHECK(snprintf(straight_dir, sizeof straight_dir, "%s/straight", work) < (int)sizeof straight_dir);
    CHECK(snprintf(resumed_dir, sizeof resumed_dir, "%s/resumed", work) < (int)sizeof resumed_dir);
    CHECK(loupe_finetuner_create(model, &p, &first, &error) == LOUPE_OK);
    run_steps(first, V, 0, 2, &b);
    CHECK(loupe_finetuner_save_checkpoint(first, checkpoint, 1234567890123LL, &error) == LOUPE_OK);
    loupe_finetuner_free(first);
    CHECK(loupe_finetuner_create(model, &p, &second, &error) == LOUPE_OK);
    int64_t position = -1;
    CHECK_MSG(loupe_finetuner_load_checkpoint(second, checkpoint, &position, &error) == LOUPE_OK, "%s",
              error.message);
    CHECK(position == 1234567890123LL && loupe_finetuner_steps_done(second) == 2);
    run_steps(second, V, 2, 4, &b);
    CHECK(a.loss == b.loss && a.grad_norm == b.grad_norm && a.lr == b.lr);
    CHECK(loupe_finetuner_write_model(straight, straight_dir, NULL, &error) == LOUPE_OK);
    CHECK(loupe_finetuner_write_model(second, resumed_dir, NULL, &error) == LOUPE_OK);
    strcat(straight_dir, "/model.safetensors");
    strcat(resumed_dir, "/model.safetensors");
    CHECK_MSG(same_file(straight_dir, resumed_dir), "the resumed run's parameters differ from the straight run's");
    /* the last step ran at the schedule's floor */
    CHECK(fabs(a.lr - p.lr * p.min_lr_fraction) <= 1e-15);

    /* refusals: each names the file and the field; the trainer stays as it was */
    char before[4096], after[4096];
    CHECK(snprintf(before, sizeof before, "%s/before", work) < (int)sizeof before);
    CHECK(snprintf(after, sizeof after, "%s/after", work) < (int)sizeof after);
    CHECK(loupe_finetuner_write_model(second, before, NULL, &error) == LOUPE_OK);
    loupe_finetune_params other = p;
    other.lr = 2e-2;
    loupe_finetuner *g = NULL;
    CHECK(loupe_finetuner_create(model, &other, &g, &error) == LOUPE_OK);
    CHECK(loupe_finetuner_load_checkpoint(g, checkpoint, &position, &error) == LOUPE_ERROR_ARGUMENT);
    CHECK_MSG(strstr(error.message, checkpoint) && strstr(error.message, "a checkpoint of a run with lr 0.01") &&
                  strstr(error.message, "loupe.settings"),
              "%s", error.message);
    loupe_finetuner_free(g);
    other = p;
    other.lens_rows = "0:3"; /* 0,1,2 is not 0,2 */
    CHECK(loupe_finetuner_create(model, &other, &g, &error) == LOUPE_OK);
    CHECK(loupe_finetuner_load_checkpoint(g, checkpoint, &position, &error) == LOUPE_ERROR_ARGUMENT &&
          strstr(error.message, "lens_rows"));
    loupe_finetuner_free(g);
    other.lens_rows = "0, 2:3"; /* the same rows written otherwise */
    CHECK(loupe_finetuner_create(model, &other, &g, &error) == LOUPE_OK);
    CHECK_MSG(loupe_finetuner_load_checkpoint(g, checkpoint, &position, &error) == LOUPE_OK, "%s", error.message);
    loupe_finetuner_free(g);
    CHECK(loupe_finetuner_create(other_model, &p, &g, &error) == LOUPE_OK);
    CHECK(loupe_finetuner_load_checkpoint(g, checkpoint, &position, &error) == LOUPE_ERROR_ARGUMENT);
    CHECK_MSG(strstr(error.message, "a checkpoint of another model: weights_hash") && strstr(error.message, "loupe.model"),
              "%s", error.message);
    loupe_finetuner_free(g);
    /* not a checkpoint: the model's own weights file */
    char weights[4096];
    CHECK(snprintf(weights, sizeof weights, "%s/model.safetensors", test_data_path("gpt2-tiny-gelu")) < (int)sizeof weights);
    CHECK(loupe_finetuner_load_checkpoint(second, weights, &position, &error) == LOUPE_ERROR_FORMAT);
    CHECK_MSG(strstr(error.message, "not a loupe finetune checkpoint"), "%s", error.message);
    /* a file cut short */
    size_t size = 0;
    char *bytes = test_read_file(checkpoint, &size);
    char cut[4096];
    CHECK(snprintf(cut, sizeof cut, "%s/cut.safetensors", work) < (int)sizeof cut);
    CHECK(bytes != NULL && test_write_file(cut, bytes, size - 4) == 0);
    CHECK(loupe_finetuner_load_checkpoint(second, cut, &position, &error) == LOUPE_ERROR_FORMAT);
    free(bytes);
    CHECK(loupe_finetuner_write_model(second, after, NULL, &error) == LOUPE_OK);
    strcat(before, "/model.safetensors");
    strcat(after, "/model.safetensors");
    CHECK_MSG(same_file(before, after), "a refused checkpoint changed the trainer");
    CHECK(loupe_finetuner_steps_done(second) == 4);
    loupe_finetuner_free(straight);
    loupe_finetuner_free(second);
}

/* A checkpoint whose tensors do not fit: written for a layout with one
 * tensor of another shape, then one with an extra tensor. */
static void test_checkpoint_tensors(const char *work) {
    train_tensor tensors[2] = {{.name = "w", .n_dims = 2, .shape = {2, 3}, .offset = 0, .count = 6, .decayed = true},
                               {.name = "b", .n_dims = 1, .shape = {3}, .offset = 6, .count = 3}};
    train_parameters layout = {.tensors = tensors, .n_tensors = 2, .n_values = 9};
    float values[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, m[12] = {0}, v[12] = {0};
    const char *model = "{\"n_layer\":1}", *settings = "{\"lr\":0.5}";
    finetune_checkpoint_run run = {&layout, model, settings, 10};
    char path[4096];
    CHECK(snprintf(path, sizeof path, "%s/small.safetensors", work) < (int)sizeof path);
    loupe_error error;
    CHECK(finetune_checkpoint_write(path, &run, values, m, v, 3, 7, &error) == LOUPE_OK);
    float got[9], got_m[9], got_v[9];
    int step = 0;
    int64_t position = 0;
    CHECK(finetune_checkpoint_read(path, &run, got, got_m, got_v, &step, &position, &error) == LOUPE_OK);
    CHECK(step == 3 && position == 7 && memcmp(got, values, sizeof got) == 0);
    /* read with a layout whose b has 4 entries */
    train_tensor wider[2] = {tensors[0], {.name = "b", .n_dims = 1, .shape = {4}, .offset = 6, .count = 4}};
    train_parameters wider_layout = {.tensors = wider, .n_tensors = 2, .n_values = 10};
    finetune_checkpoint_run wider_run = {&wider_layout, model, settings, 10};
    float big[10], big_m[10], big_v[10];
    CHECK(finetune_checkpoint_read(path, &wider_run, big, big_m, big_v, &step, &position, &error) ==
          LOUPE_ERROR_FORMAT);
    CHECK_MSG(strstr(error.message, "tensor 'param/b' is F32 [3], this model's is F32 [4]"), "%s", error.message);
    /* read with a layout of w alone: b is extra */
    train_parameters short_layout = {.tensors = tensors, .n_tensors = 1, .n_values = 6};
    finetune_checkpoint_run short_run = {&short_layout, model, settings, 10};
    CHECK(finetune_checkpoint_read(path, &short_run, big, big_m, big_v, &step, &position, &error) ==
          LOUPE_ERROR_FORMAT);
    CHECK_MSG(strstr(error.message, "tensor 'param/b' is not part of a checkpoint of this model"), "%s",
              error.message);
    /* a layout with a tensor the file lacks */
    train_tensor more[3] = {tensors[0], tensors[1], {.name = "c", .n_dims = 1, .shape = {1}, .offset = 9, .count = 1}};
    train_parameters more_layout = {.tensors = more, .n_tensors = 3, .n_values = 10};
    finetune_checkpoint_run more_run = {&more_layout, model, settings, 10};
    CHECK(finetune_checkpoint_read(path, &more_run, big, big_m, big_v, &step, &position, &error) ==
          LOUPE_ERROR_FORMAT);
    CHECK_MSG(strstr(error.message, "tensor 'param/c' missing"), "%s", error.message);
    /* a step beyond the run's */
    run.max_step = 2;
    CHECK(finetune_checkpoint_read(path, &run, got, got_m, got_v, &step, &position, &error) == LOUPE_ERROR_FORMAT);
    CHECK_MSG(strstr(error.message, "loupe.step 3 is beyond the run's 2 steps"), "%s", error.message);
    /* a member the run has that the file lacks */
    run.max_step = 10;
    run.settings_json = "{\"lr\":0.5,\"eps\":1e-8}";
    CHECK(finetune_checkpoint_read(path, &run, got, got_m, got_v, &step, &position, &error) ==
          LOUPE_ERROR_ARGUMENT);
    CHECK_MSG(strstr(error.message, "a checkpoint of a run with eps (none), this run's 1e-08"), "%s", error.message);
}

/* ------------------------------------------------------------------------
 * The model folder
 * ---------------------------------------------------------------------- */

/* The tensors of two safetensors files have the same names, shapes and
 * order, the second's all F32; with values, the same values (the first's
 * converted to F32). */
static void check_same_tensors(const char *input, const char *written, bool values) {
    safetensors_file a, b;
    loupe_error error;
    if (safetensors_open(input, &a, &error) != LOUPE_OK) {
        CHECK_MSG(false, "%s", error.message);
        return;
    }
    if (safetensors_open(written, &b, &error) != LOUPE_OK) {
        CHECK_MSG(false, "%s", error.message);
        safetensors_close(&a);
        return;
    }
    CHECK(a.n_tensors == b.n_tensors);
    for (size_t i = 0; i < a.n_tensors && i < b.n_tensors; i++) {
        const tensor_view *x = &a.tensors[i], *y = &b.tensors[i];
        CHECK_MSG(strcmp(x->name, y->name) == 0 && x->n_dims == y->n_dims &&
                      memcmp(x->shape, y->shape, (size_t)x->n_dims * sizeof x->shape[0]) == 0 &&
                      y->dtype == TENSOR_DTYPE_F32,
                  "tensor %zu: %s vs %s", i, x->name, y->name);
        if (!values) continue;
        float *u = malloc((size_t)x->n_elements * sizeof(float)), *w = malloc((size_t)y->n_elements * sizeof(float));
        CHECK(tensor_to_f32(x, u, &error) == LOUPE_OK && tensor_to_f32(y, w, &error) == LOUPE_OK);
        CHECK_MSG(memcmp(u, w, (size_t)x->n_elements * sizeof(float)) == 0, "tensor %s changed", x->name);
        free(u), free(w);
    }
    cJSON *header = NULL;
    CHECK(safetensors_header_json(&b, &header, &error) == LOUPE_OK);
    const cJSON *metadata = cJSON_GetObjectItemCaseSensitive(header, "__metadata__");
    const char *format = json_string_member(metadata, "format");
    CHECK(format != NULL && strcmp(format, "pt") == 0);
    cJSON_Delete(header);
    safetensors_close(&a);
    safetensors_close(&b);
}

/* Largest |a - b| of the logits of two models on the same ids. */
static double logits_difference(const loupe_model *a, const loupe_model *b, const int32_t *ids, int n, int C, int V) {
    float *ra = malloc((size_t)n * C * sizeof(float)), *rb = malloc((size_t)n * C * sizeof(float));
    float *la = malloc((size_t)n * V * sizeof(float)), *lb = malloc((size_t)n * V * sizeof(float));
    loupe_error error;
    double d = INFINITY;
    if (loupe_model_forward(a, ids, n, NULL, ra, &error) == LOUPE_OK &&
        loupe_model_forward(b, ids, n, NULL, rb, &error) == LOUPE_OK &&
        loupe_model_logits(a, ra, n, la, &error) == LOUPE_OK && loupe_model_logits(b, rb, n, lb, &error) == LOUPE_OK)
        d = test_max_abs_diff(la, lb, (size_t)n * V);
    free(ra), free(rb), free(la), free(lb);
    return d;
}

/* The mean over windows (n, T+1) and positions of -log p(next token) of a
 * model, in double from its logits. */
static double final_ce(const loupe_model *model, const int32_t *ids, int n, int C, int V) {
    float *residual = malloc((size_t)T * C * sizeof(float)), *logits = malloc((size_t)T * V * sizeof(float));
    loupe_error error;
    double sum = 0;
    for (int w = 0; w < n; w++) {
        const int32_t *window = ids + (size_t)w * (T + 1);
        if (loupe_model_forward(model, window, T, NULL, residual, &error) != LOUPE_OK ||
            loupe_model_logits(model, residual, T, logits, &error) != LOUPE_OK) {
            sum = NAN;
            break;
        }
        for (int t = 0; t < T; t++) {
            const float *z = logits + (size_t)t * V;
            double top = z[0], total = 0;
            for (int v = 1; v < V; v++) top = z[v] > top ? z[v] : top;
            for (int v = 0; v < V; v++) total += exp((double)z[v] - top);
            sum += top + log(total) - z[window[t + 1]];
        }
    }
    free(residual), free(logits);
    return sum / ((double)n * T);
}

/* dir/config.json's dtype members are "float32" and the rest is the input's. */
static void check_config(const char *input_dir, const char *dir) {
    char path[4096];
    CHECK(snprintf(path, sizeof path, "%s/config.json", dir) < (int)sizeof path);
    cJSON *written = NULL, *input = NULL;
    loupe_error error;
    CHECK(json_parse_file(path, 1 << 20, &written, &error) == LOUPE_OK);
    CHECK(snprintf(path, sizeof path, "%s/config.json", input_dir) < (int)sizeof path);
    CHECK(json_parse_file(path, 1 << 20, &input, &error) == LOUPE_OK);
    if (written != NULL && input != NULL) {
        const char *dtype = json_string_member(written, "dtype");
        CHECK(dtype != NULL && strcmp(dtype, "float32") == 0);
        cJSON_DeleteItemFromObjectCaseSensitive(written, "dtype");
        cJSON_DeleteItemFromObjectCaseSensitive(input, "dtype");
        CHECK(cJSON_Compare(written, input, true));
    }
    cJSON_Delete(written);
    cJSON_Delete(input);
}

static void test_model_folder(const loupe_model *model, int C, int V, const char *work) {
    loupe_error error;
    /* an input folder with tokenizer files: the tiny model and the demo's vocabulary */
    char input[4096], out[4096], path[4096], from[4096];
    CHECK(snprintf(input, sizeof input, "%s/input", work) < (int)sizeof input);
    CHECK(mkdir(input, 0777) == 0);
    const char *model_files[] = {"config.json", "model.safetensors"};
    for (int i = 0; i < 2; i++) {
        CHECK(snprintf(from, sizeof from, "%s/%s", test_data_path("gpt2-tiny-gelu"), model_files[i]) < (int)sizeof from);
        CHECK(snprintf(path, sizeof path, "%s/%s", input, model_files[i]) < (int)sizeof path);
        CHECK(test_copy_file(from, path) == 0);
    }
    const char *tokenizer_files[] = {"vocab.json", "merges.txt", "generation_config.json"};
    for (int i = 0; i < 3; i++) {
        CHECK(snprintf(from, sizeof from, "%s/%s", test_model_path("gpt2-demo"), tokenizer_files[i]) < (int)sizeof from);
        CHECK(snprintf(path, sizeof path, "%s/%s", input, tokenizer_files[i]) < (int)sizeof path);
        CHECK(test_copy_file(from, path) == 0);
    }
    loupe_model *input_model = NULL;
    if (loupe_model_open(input, &input_model, &error) != LOUPE_OK) {
        CHECK_MSG(false, "%s", error.message);
        return;
    }
    loupe_finetune_params p = small_params();
    loupe_finetuner *f = NULL;
    if (loupe_finetuner_create(input_model, &p, &f, &error) != LOUPE_OK) {
        CHECK_MSG(false, "create: %s", error.message);
        loupe_model_close(input_model);
        return;
    }
    /* after no step: the input's tensors, values and logits */
    CHECK(snprintf(out, sizeof out, "%s/out", work) < (int)sizeof out);
    const char *training = "{\"steps\": 0}\n";
    CHECK_MSG(loupe_finetuner_write_model(f, out, training, &error) == LOUPE_OK, "%s", error.message);
    CHECK(snprintf(path, sizeof path, "%s/model.safetensors", out) < (int)sizeof path);
    CHECK(snprintf(from, sizeof from, "%s/model.safetensors", input) < (int)sizeof from);
    check_same_tensors(from, path, true);
    check_config(input, out);
    for (int i = 0; i < 3; i++) {
        CHECK(snprintf(from, sizeof from, "%s/%s", input, tokenizer_files[i]) < (int)sizeof from);
        CHECK(snprintf(path, sizeof path, "%s/%s", out, tokenizer_files[i]) < (int)sizeof path);
        CHECK_MSG(same_file(from, path), "%s not copied", tokenizer_files[i]);
    }
    size_t size = 0;
    char *text = folder_file(out, "training.json", &size);
    CHECK(text != NULL && size == strlen(training) && memcmp(text, training, size) == 0);
    free(text);
    loupe_model *reloaded = NULL;
    int32_t ids[MAX_WINDOWS * (T + 1)];
    random_windows(ids, MAX_WINDOWS, V, 5);
    CHECK_MSG(loupe_model_open(out, &reloaded, &error) == LOUPE_OK, "%s", error.message);
    if (reloaded != NULL) {
        double d = logits_difference(model, reloaded, ids, T, C, V);
        printf("model folder after 0 steps: largest logit difference from the input model %.3g\n", d);
        CHECK(d == 0.0);
        loupe_model_close(reloaded);
    }
    /* after a step: the reloaded model's CE is the trainer's */
    int32_t batch[2 * (T + 1)];
    random_windows(batch, 2, V, 6);
    loupe_finetune_losses step, evaluated;
    CHECK(loupe_finetuner_add(f, batch, 2, &error) == LOUPE_OK);
    CHECK(loupe_finetuner_evaluate(f, ids, MAX_WINDOWS, &evaluated, &error) == LOUPE_ERROR_ARGUMENT); /* pending */
    CHECK(loupe_finetuner_step(f, &step, &error) == LOUPE_OK);
    CHECK(loupe_finetuner_evaluate(f, ids, 3, &evaluated, &error) == LOUPE_OK); /* 3: two micro-batches */
    CHECK_MSG(loupe_finetuner_write_model(f, out, NULL, &error) == LOUPE_OK, "writing again: %s", error.message);
    CHECK_MSG(loupe_model_open(out, &reloaded, &error) == LOUPE_OK, "%s", error.message);
    if (reloaded != NULL) {
        double mine = final_ce(reloaded, ids, 3, C, V), before = final_ce(model, ids, 3, C, V);
        printf("model folder after 1 step: final CE of the reloaded model %.9f, the trainer's evaluate %.9f "
               "(before the step %.9f)\n",
               mine, evaluated.final_ce, before);
        CHECK_MSG(fabs(mine - evaluated.final_ce) <= 1e-5 * fabs(mine), "reloaded CE %.9g, evaluate %.9g", mine,
                  evaluated.final_ce);
        CHECK(fabs(mine - before) > 1e-4); /* the step changed the model */
        loupe_model_close(reloaded);
    }
    /* the input's folder holds another model: refused, naming it */
    CHECK(loupe_finetuner_write_model(f, input, NULL, &error) == LOUPE_ERROR_ARGUMENT);
    CHECK_MSG(strstr(error.message, "holds a model that loupe finetune did not write") &&
                  strstr(error.message, "model.safetensors"),
              "%s", error.message);
    /* so does a folder with only a config.json */
    CHECK(snprintf(path, sizeof path, "%s/config-only", work) < (int)sizeof path);
    CHECK(mkdir(path, 0777) == 0);
    CHECK(snprintf(from, sizeof from, "%s/config-only/config.json", work) < (int)sizeof from);
    CHECK(test_write_file(from, "{}", 2) == 0);
    CHECK(loupe_finetuner_write_model(f, path, NULL, &error) == LOUPE_ERROR_ARGUMENT &&
          strstr(error.message, "config.json"));
    loupe_finetuner_free(f);
    loupe_model_close(input_model);
}

/* A BF16 model: written in F32 with its values widened exactly. */
static void test_half_input(const char *work) {
    loupe_model *model = NULL;
    loupe_error error;
    if (loupe_model_open(test_data_path("gpt2-tiny-bf16"), &model, &error) != LOUPE_OK) {
        CHECK_MSG(false, "%s", error.message);
        return;
    }
    loupe_finetune_params p = small_params();
    loupe_finetuner *f = NULL;
    char out[4096], from[4096];
    CHECK(snprintf(out, sizeof out, "%s/bf16", work) < (int)sizeof out);
    CHECK(loupe_finetuner_create(model, &p, &f, &error) == LOUPE_OK);
    CHECK(f != NULL && loupe_finetuner_write_model(f, out, NULL, &error) == LOUPE_OK);
    CHECK(snprintf(from, sizeof from, "%s/model.safetensors", test_data_path("gpt2-tiny-bf16")) < (int)sizeof from);
    strcat(out, "/model.safetensors");
    check_same_tensors(from, out, true);
    loupe_finetuner_free(f);
    loupe_model_close(model);
}

/* The sharded F16 demo model: one model.safetensors holding every tensor of
 * both shards (in the checkpoint's order: the index's), widened exactly,
 * whose logits are the input's. */
static void test_sharded_input(const char *work) {
    loupe_model *model = NULL, *reloaded = NULL;
    loupe_error error;
    if (loupe_model_open(test_model_path("gpt2-demo"), &model, &error) != LOUPE_OK) {
        CHECK_MSG(false, "%s", error.message);
        return;
    }
    loupe_model_info info;
    loupe_model_get_info(model, &info);
    loupe_finetune_params p = small_params();
    loupe_finetuner *f = NULL;
    char out[1024], written[1100], shard[4096];
    CHECK(snprintf(out, sizeof out, "%s/demo", work) < (int)sizeof out);
    CHECK(loupe_finetuner_create(model, &p, &f, &error) == LOUPE_OK);
    CHECK(f != NULL && loupe_finetuner_write_model(f, out, NULL, &error) == LOUPE_OK);
    CHECK(snprintf(written, sizeof written, "%s/model.safetensors", out) < (int)sizeof written);
    safetensors_file all;
    if (safetensors_open(written, &all, &error) == LOUPE_OK) {
        size_t k = 0;
        for (int s = 1; s <= 2; s++) {
            CHECK(snprintf(shard, sizeof shard, "%s/model-0000%d-of-00002.safetensors", test_model_path("gpt2-demo"),
                           s) < (int)sizeof shard);
            safetensors_file part;
            if (safetensors_open(shard, &part, &error) != LOUPE_OK) {
                CHECK_MSG(false, "%s", error.message);
                continue;
            }
            for (size_t i = 0; i < part.n_tensors; i++, k++) {
                const tensor_view *x = &part.tensors[i], *y = safetensors_find(&all, x->name);
                CHECK_MSG(y != NULL && x->n_dims == y->n_dims &&
                              memcmp(x->shape, y->shape, (size_t)x->n_dims * sizeof x->shape[0]) == 0 &&
                              y->dtype == TENSOR_DTYPE_F32,
                          "%s missing or of another shape", x->name);
                if (y == NULL || y->n_elements != x->n_elements) continue;
                float *u = malloc((size_t)x->n_elements * sizeof(float));
                CHECK(tensor_to_f32(x, u, &error) == LOUPE_OK);
                CHECK_MSG(memcmp(u, y->data, (size_t)x->n_elements * sizeof(float)) == 0, "%s changed", x->name);
                free(u);
            }
            safetensors_close(&part);
        }
        CHECK(k == all.n_tensors);
        safetensors_close(&all);
    }
    CHECK_MSG(loupe_model_open(out, &reloaded, &error) == LOUPE_OK, "%s", error.message);
    if (reloaded != NULL) {
        int32_t ids[T + 1];
        random_windows(ids, 1, info.n_vocab, 9);
        double d = logits_difference(model, reloaded, ids, T, info.n_embd, info.n_vocab);
        printf("model folder of the F16 demo: largest logit difference from the input model %.3g\n", d);
        CHECK(d <= 1e-4);
        loupe_model_close(reloaded);
    }
    loupe_finetuner_free(f);
    loupe_model_close(model);
}

int main(void) {
    test_lens_rows();
    char *work = test_make_temp_dir();
    REQUIRE(work != NULL);
    loupe_model *model = NULL, *relu = NULL;
    loupe_error error;
    REQUIRE(loupe_model_open(test_data_path("gpt2-tiny-gelu"), &model, &error) == LOUPE_OK);
    REQUIRE(loupe_model_open(test_data_path("gpt2-tiny-relu"), &relu, &error) == LOUPE_OK);
    loupe_model_info info;
    loupe_model_get_info(model, &info);
    test_accumulation(model, info.n_vocab, work);
    test_resume(model, relu, info.n_vocab, work);
    test_checkpoint_tensors(work);
    test_model_folder(model, info.n_embd, info.n_vocab, work);
    test_half_input(work);
    test_sharded_input(work);
    loupe_model_close(model);
    loupe_model_close(relu);
    test_remove_tree(work);
    free(work);
    return test_finish("test_finetune");
}
