/*
 * test_adamw.c - the fine-tuning optimizer (src/train/adamw.h) against
 * PyTorch: tests/reference/adamw_reference.py wrote
 * tests/data/adamw_reference.safetensors (or the file named as argument)
 * with random parameters and three gradients, and what torch.optim.AdamW,
 * clip_grad_norm_ and a LambdaLR of the schedule's definition made of them:
 *   - the learning rate of every step of a 10-step schedule with warm-up;
 *   - the gradient norm and rate of each of the three steps (the second one
 *     clipped), the parameters and both moments after them: largest
 *     relative difference at most 1e-6 for the parameters, 2e-6 for the
 *     moments (entries under 1e-3 in size relative to 1e-3). The only
 *     difference is PyTorch's clipping norm, summed in float32: the same
 *     script with the norm summed in double gives the same bits;
 *   - the same with clipping or decay undone fails (the test can fail);
 *   - the checks of the settings, and that threads do not change the norm.
 * ctest runs it once per level of util/cpu_features.h (LOUPE_CPU): the
 * update has a plain and an AVX2 body.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/json.h"
#include "kernels/parallel.h"
#include "io/safetensors.h"
#include "test_reference.h"
#include "test_support.h"
#include "train/adamw.h"

enum { MAX_TENSORS = 8, STEPS = 3 };

typedef struct reference_tensor {
    const char *name; /* after "param." */
    size_t offset, count;
    bool decayed;
} reference_tensor;

typedef struct reference {
    safetensors_file file;
    adamw_settings settings, schedule;
    reference_tensor tensors[MAX_TENSORS];
    int n_tensors;
    size_t n;
} reference;

static double metadata_number(const cJSON *metadata, const char *key) {
    const char *text = json_string_member(metadata, key);
    return text != NULL ? strtod(text, NULL) : NAN;
}

static int reference_open(reference *r, const char *path) {
    memset(r, 0, sizeof *r);
    loupe_error error;
    if (safetensors_open(path, &r->file, &error) != LOUPE_OK) {
        fprintf(stderr, "%s\n", error.message);
        return -1;
    }
    cJSON *header = NULL;
    if (safetensors_header_json(&r->file, &header, &error) != LOUPE_OK) return -1;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(header, "__metadata__");
    r->settings = (adamw_settings){.lr = metadata_number(m, "lr"),
                                   .min_lr_fraction = metadata_number(m, "min_lr_fraction"),
                                   .beta1 = metadata_number(m, "beta1"),
                                   .beta2 = metadata_number(m, "beta2"),
                                   .eps = metadata_number(m, "eps"),
                                   .weight_decay = metadata_number(m, "weight_decay"),
                                   .max_grad_norm = metadata_number(m, "max_grad_norm"),
                                   .warmup_steps = (int)metadata_number(m, "warmup_steps"),
                                   .steps = (int)metadata_number(m, "steps")};
    r->schedule = r->settings;
    r->schedule.lr = metadata_number(m, "schedule.lr");
    r->schedule.min_lr_fraction = metadata_number(m, "schedule.min_lr_fraction");
    r->schedule.warmup_steps = (int)metadata_number(m, "schedule.warmup_steps");
    r->schedule.steps = (int)metadata_number(m, "schedule.steps");
    cJSON_Delete(header);
    for (size_t i = 0; i < r->file.n_tensors && r->n_tensors < MAX_TENSORS; i++) {
        const tensor_view *t = &r->file.tensors[i];
        if (strncmp(t->name, "param.", 6) != 0) continue;
        r->tensors[r->n_tensors++] =
            (reference_tensor){t->name + 6, r->n, (size_t)t->n_elements, t->n_dims >= 2};
        r->n += (size_t)t->n_elements;
    }
    return r->n_tensors == 4 && adamw_settings_check(&r->settings, &error) == LOUPE_OK ? 0 : -1;
}

/* The tensors "PREFIX.NAME" of every parameter, concatenated (n; caller frees). */
static float *reference_vector(const reference *r, const char *prefix) {
    float *out = malloc(r->n * sizeof(float));
    for (int i = 0; out != NULL && i < r->n_tensors; i++) {
        char name[128];
        snprintf(name, sizeof name, "%s.%s", prefix, r->tensors[i].name);
        float *part = test_tensor_f32(&r->file, name, (int64_t)r->tensors[i].count);
        if (part == NULL) {
            free(out);
            return NULL;
        }
        memcpy(out + r->tensors[i].offset, part, r->tensors[i].count * sizeof(float));
        free(part);
    }
    return out;
}

/* Largest |a - b| / |b| over entries with |b| >= 1e-3; entries below that
 * count with |a - b| / 1e-3. */
static double max_relative_difference(const float *a, const float *b, size_t n) {
    double worst = 0;
    for (size_t k = 0; k < n; k++) {
        double scale = fabs((double)b[k]) > 1e-3 ? fabs((double)b[k]) : 1e-3;
        double d = fabs((double)a[k] - b[k]) / scale;
        worst = d > worst ? d : worst;
    }
    return worst;
}

/* Three steps as the trainer takes them: clip over everything, then each
 * tensor's update. clip false / decay false leave a part out. */
static void run_steps(const reference *r, float *values, float *const grads[STEPS], float *m, float *v,
                      double norms[STEPS], double rates[STEPS], bool clip, bool decay) {
    float *g = malloc(r->n * sizeof(float));
    for (int s = 0; s < STEPS; s++) {
        memcpy(g, grads[s], r->n * sizeof(float));
        norms[s] = adamw_clip_gradients(g, r->n, clip ? r->settings.max_grad_norm : 1e30);
        rates[s] = adamw_learning_rate(&r->settings, s);
        for (int i = 0; i < r->n_tensors; i++) {
            const reference_tensor *t = &r->tensors[i];
            adamw_update(&r->settings, s, rates[s], t->decayed && decay, values + t->offset, g + t->offset,
                         m + t->offset, v + t->offset, t->count);
        }
    }
    free(g);
}

static void test_against_torch(const reference *r) {
    /* the schedule alone, every step */
    float *schedule = test_tensor_f32(&r->file, "schedule", r->schedule.steps);
    CHECK(schedule != NULL);
    double worst_rate = 0;
    for (int s = 0; schedule != NULL && s < r->schedule.steps; s++) {
        double d = fabs(adamw_learning_rate(&r->schedule, s) - schedule[s]) / schedule[s];
        worst_rate = d > worst_rate ? d : worst_rate;
    }
    CHECK_MSG(worst_rate <= 1e-6, "schedule: relative difference %.3g", worst_rate);
    /* the floor is reached at the last step and the warm-up ends at the peak */
    CHECK(fabs(adamw_learning_rate(&r->schedule, r->schedule.steps - 1) -
               r->schedule.lr * r->schedule.min_lr_fraction) <= 1e-15);
    CHECK(fabs(adamw_learning_rate(&r->schedule, r->schedule.warmup_steps - 1) - r->schedule.lr) <= 1e-15);
    free(schedule);

    float *values = reference_vector(r, "param");
    float *grads[STEPS];
    for (int s = 0; s < STEPS; s++) {
        char prefix[16];
        snprintf(prefix, sizeof prefix, "grad%d", s);
        grads[s] = reference_vector(r, prefix);
    }
    float *stepped = reference_vector(r, "stepped"), *torch_m = reference_vector(r, "exp_avg");
    float *torch_v = reference_vector(r, "exp_avg_sq");
    float *torch_norms = test_tensor_f32(&r->file, "grad_norm", STEPS), *torch_rates = test_tensor_f32(&r->file, "lr", STEPS);
    float *m = calloc(r->n, sizeof(float)), *v = calloc(r->n, sizeof(float));
    float *start = malloc(r->n * sizeof(float));
    if (!values || !grads[0] || !grads[1] || !grads[2] || !stepped || !torch_m || !torch_v || !torch_norms ||
        !torch_rates || !m || !v || !start) {
        CHECK(!"reference tensors missing");
    } else {
        memcpy(start, values, r->n * sizeof(float));
        double norms[STEPS], rates[STEPS];
        run_steps(r, values, grads, m, v, norms, rates, true, true);
        for (int s = 0; s < STEPS; s++) {
            CHECK_MSG(fabs(norms[s] - torch_norms[s]) <= 1e-6 * torch_norms[s], "step %d: norm %.9g, PyTorch %.9g", s,
                      norms[s], torch_norms[s]);
            CHECK_MSG(fabs(rates[s] - torch_rates[s]) <= 1e-6 * torch_rates[s], "step %d: lr %.9g, PyTorch %.9g", s,
                      rates[s], torch_rates[s]);
        }
        CHECK(norms[1] > r->settings.max_grad_norm && norms[0] < r->settings.max_grad_norm);
        double dp = max_relative_difference(values, stepped, r->n);
        double dm = max_relative_difference(m, torch_m, r->n), dv = max_relative_difference(v, torch_v, r->n);
        printf("AdamW, 3 steps against torch.optim.AdamW: max relative difference parameters %.3g, exp_avg %.3g, "
               "exp_avg_sq %.3g; schedule %.3g\n",
               dp, dm, dv, worst_rate);
        CHECK_MSG(dp <= 1e-6, "parameters: %.3g", dp);
        CHECK_MSG(dm <= 2e-6, "exp_avg: %.3g", dm);
        CHECK_MSG(dv <= 2e-6, "exp_avg_sq: %.3g", dv);
        /* the steps moved the parameters by far more than the tolerance */
        CHECK(max_relative_difference(start, stepped, r->n) > 1e-3);

        /* without clipping, or without decay, the result differs: the test can fail */
        for (int variant = 0; variant < 2; variant++) {
            memcpy(values, start, r->n * sizeof(float));
            memset(m, 0, r->n * sizeof(float));
            memset(v, 0, r->n * sizeof(float));
            run_steps(r, values, grads, m, v, norms, rates, variant != 0, variant == 0);
            CHECK_MSG(max_relative_difference(values, stepped, r->n) > 1e-4, "variant %d matches PyTorch", variant);
        }
    }
    for (int s = 0; s < STEPS; s++) free(grads[s]);
    free(values), free(stepped), free(torch_m), free(torch_v), free(torch_norms), free(torch_rates);
    free(m), free(v), free(start);
}

/* The clipping norm of a long vector, against a plain double sum, and the
 * same bits whatever the number of threads. */
static void test_clip_norm(void) {
    const size_t n = 300001;
    float *g = malloc(n * sizeof(float)), *copy = malloc(n * sizeof(float));
    uint64_t state = 7;
    double squares = 0;
    for (size_t k = 0; k < n; k++) {
        g[k] = (float)(test_random_unit(&state) - 0.5);
        squares += (double)g[k] * g[k];
    }
    memcpy(copy, g, n * sizeof(float));
    double norm = adamw_clip_gradients(g, n, 1e30);
    CHECK(fabs(norm - sqrt(squares)) <= 1e-12 * sqrt(squares));
    CHECK(memcmp(g, copy, n * sizeof(float)) == 0); /* not clipped */
    double clipped = adamw_clip_gradients(g, n, 1.0);
    CHECK(clipped == norm);
    double after = 0;
    for (size_t k = 0; k < n; k++) after += (double)g[k] * g[k];
    CHECK(fabs(sqrt(after) - 1.0) <= 1e-5);
#ifdef _OPENMP
    memcpy(g, copy, n * sizeof(float));
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    double single = adamw_clip_gradients(g, n, 1e30);
    omp_set_num_threads(threads > 1 ? threads : 3);
    double many = adamw_clip_gradients(copy, n, 1e30);
    omp_set_num_threads(threads);
    CHECK(single == many);
#endif
    free(g), free(copy);
}

static void test_settings_check(const adamw_settings *good) {
    loupe_error error;
    CHECK(adamw_settings_check(good, &error) == LOUPE_OK);
    adamw_settings s = *good;
    s.warmup_steps = s.steps;
    CHECK(adamw_settings_check(&s, &error) == LOUPE_ERROR_ARGUMENT && strstr(error.message, "warmup_steps"));
    s = *good, s.beta2 = 1.0;
    CHECK(adamw_settings_check(&s, &error) == LOUPE_ERROR_ARGUMENT && strstr(error.message, "beta2"));
    s = *good, s.lr = NAN;
    CHECK(adamw_settings_check(&s, &error) == LOUPE_ERROR_ARGUMENT && strstr(error.message, "lr"));
    s = *good, s.min_lr_fraction = 1.5;
    CHECK(adamw_settings_check(&s, &error) == LOUPE_ERROR_ARGUMENT && strstr(error.message, "min_lr_fraction"));
    /* a schedule without warm-up starts at the peak; one step is the floor */
    s = *good, s.warmup_steps = 0, s.steps = 5;
    CHECK(adamw_learning_rate(&s, 0) == s.lr);
    s.steps = 1;
    CHECK(fabs(adamw_learning_rate(&s, 0) - s.lr * s.min_lr_fraction) <= 1e-18);
}

int main(int argc, char **argv) {
    test_require_cpu_level("test_adamw");
    reference r;
    const char *path = argc > 1 ? argv[1] : test_data_path("adamw_reference.safetensors");
    REQUIRE(reference_open(&r, path) == 0);
    test_against_torch(&r);
    test_clip_norm();
    test_settings_check(&r.settings);
    safetensors_close(&r.file);
    return test_finish("test_adamw");
}
