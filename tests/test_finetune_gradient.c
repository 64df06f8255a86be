/*
 * test_finetune_gradient.c - every parameter's gradient of the fine-tuning
 * loss (src/train/model_gradient.h) after one forward/backward, against the
 * float64 PyTorch autograd reference
 * tests/reference/finetune_gradient_reference.py. Run in two steps by
 * tests/train/finetune_gradient.sh:
 *
 *   test_finetune_gradient windows MODEL_DIR B T SEED OUT
 *     writes the windows, "ids" int32 (B, T+1), drawn uniformly over the
 *     vocabulary by the xorshift generator of test_support from SEED, into
 *     the safetensors file OUT for the reference to read;
 *   test_finetune_gradient compare MODEL_DIR WINDOWS REFERENCE [OUT]
 *     runs model_gradient_accumulate on those windows with the reference's
 *     case ("case.lens_weight", "case.lens_rows") and compares: per tensor
 *     the largest relative difference over the entries that are not tiny,
 *     |ref| >= 1e-2 max|ref| of that tensor (at most 1e-4), the largest
 *     absolute difference over the rest relative to max|ref| (at most
 *     1e-5), the relative difference over |ref| >= 1e-3 max|ref|
 *     (reported); every row's CE and the loss parts within 1e-5 relative,
 *     also from the forward-only pass (no gradient buffer) of an evaluation.
 *     OUT, when given, receives loupe's gradients and loss parts under the
 *     reference's names, for a closer look at a failure.
 *
 * Exit status: 0 all within tolerance, 1 a difference or an error, 2 usage,
 * 77 (a skip) when model_gradient refuses the family as unsupported.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "io/safetensors_write.h"
#include "loupe.h"
#include "test_support.h"
#include "train/model_gradient.h"
#include "train/train_parameters.h"

enum { MAX_LAYERS = 256 };

/* Entries at least SIGNIFICANT_FRACTION of their tensor's largest |ref|
 * ("not tiny") are held to GRADIENT_TOLERANCE relative; the rest to
 * REST_TOLERANCE of max|ref| absolute. float32 arithmetic alone leaves an
 * absolute error of some 1e-7 .. 1e-5 of max|ref| (PyTorch's own float32
 * gradients against float64: 4e-7 on the tiny fixtures, 9e-6 on gpt2-demo),
 * which on an entry a thousandth of max|ref| is a relative 1e-4 .. 1e-2:
 * PyTorch's float32 reaches 3.5e-4 there on the tiny fixtures, so the
 * relative difference over |ref| >= REPORTED_FRACTION max|ref| is reported,
 * not held to a bound. */
static const double SIGNIFICANT_FRACTION = 1e-2;
static const double REPORTED_FRACTION = 1e-3;
static const double GRADIENT_TOLERANCE = 1e-4;
static const double REST_TOLERANCE = 1e-5;
static const double LOSS_TOLERANCE = 1e-5;

/* Prints the usage; returns 2. */
static int usage(void) {
    fprintf(stderr,
            "usage: test_finetune_gradient windows MODEL_DIR B T SEED OUT\n"
            "       test_finetune_gradient compare MODEL_DIR WINDOWS REFERENCE [OUT]\n");
    return 2;
}

/* Prints what failed and returns 1 (for `return fail(...)` on errors). */
static int fail(const char *what, const loupe_error *error) {
    fprintf(stderr, "test_finetune_gradient: %s: %s\n", what, error != NULL ? error->message : "");
    return 1;
}

/* The windows: ids (B, T+1) uniform over the model's vocabulary. */
static int write_windows(const char *model_dir, int B, int T, uint64_t seed, const char *out_path) {
    loupe_error error;
    loupe_model *model = NULL;
    if (loupe_model_open(model_dir, &model, &error) != LOUPE_OK) return fail(model_dir, &error);
    loupe_model_info info;
    loupe_model_get_info(model, &info);
    if (B < 1 || T < 1 || T > info.n_ctx || seed == 0) {
        fprintf(stderr, "test_finetune_gradient: B %d, T %d (n_ctx %d) or seed 0 out of range\n", B, T, info.n_ctx);
        loupe_model_close(model);
        return 2;
    }
    size_t n = (size_t)B * (T + 1);
    int32_t *ids = malloc(n * sizeof *ids);
    if (ids == NULL) {
        loupe_model_close(model);
        return 1;
    }
    uint64_t state = seed;
    for (size_t k = 0; k < n; k++) {
        int32_t id = (int32_t)(test_random_unit(&state) * info.n_vocab);
        ids[k] = id < info.n_vocab ? id : info.n_vocab - 1;
    }
    safetensors_typed_entry entry = {"ids", SAFETENSORS_WRITE_I32, 2, {B, T + 1, 0, 0}, ids};
    loupe_status status = safetensors_write_file(out_path, &entry, 1, NULL, 0, &error);
    free(ids);
    loupe_model_close(model);
    return status == LOUPE_OK ? 0 : fail(out_path, &error);
}

/* The float64 value(s) of the reference's tensor `name` into out (capacity),
 * converted from whatever float dtype it was written in; the count, or -1
 * when absent or too many. */
static int64_t reference_doubles(const safetensors_file *reference, const char *name, double *out, int64_t capacity) {
    const tensor_view *view = safetensors_find(reference, name);
    if (view == NULL || view->n_elements > capacity) return -1;
    if (view->dtype == TENSOR_DTYPE_F64) {
        memcpy(out, view->data, (size_t)view->n_elements * sizeof(double));
        return view->n_elements;
    }
    if (view->dtype == TENSOR_DTYPE_I32) {
        for (int64_t k = 0; k < view->n_elements; k++) {
            int32_t value;
            memcpy(&value, view->data + k * 4, 4);
            out[k] = value;
        }
        return view->n_elements;
    }
    float values[MAX_LAYERS + 1];
    if (view->n_elements > MAX_LAYERS + 1 || tensor_to_f32(view, values, NULL) != LOUPE_OK) return -1;
    for (int64_t k = 0; k < view->n_elements; k++) out[k] = values[k];
    return view->n_elements;
}

/* One tensor's differences: max_relative over the significant entries,
 * max_rest over the others relative to max|ref|. */
typedef struct tensor_difference {
    double max_reference;  /* max |ref| */
    double max_relative;   /* over |ref| >= SIGNIFICANT_FRACTION max|ref| */
    double max_rest;       /* |ours - ref| / max|ref| over the rest */
    double reported_relative; /* over |ref| >= REPORTED_FRACTION max|ref| */
    size_t worst_index;    /* entry of max_relative */
    size_t n_significant;
} tensor_difference;

/* ours, reference (n). A tensor whose reference is all zeros is held to
 * ours being all zeros too (max_rest is then max|ours|). */
static tensor_difference compare_tensor(const float *ours, const float *reference, size_t n) {
    tensor_difference d = {0};
    for (size_t k = 0; k < n; k++) d.max_reference = fmax(d.max_reference, fabs((double)reference[k]));
    double threshold = SIGNIFICANT_FRACTION * d.max_reference;
    for (size_t k = 0; k < n; k++) {
        double r = reference[k], difference = fabs((double)ours[k] - r);
        if (d.max_reference > 0 && fabs(r) >= REPORTED_FRACTION * d.max_reference)
            d.reported_relative = fmax(d.reported_relative, difference / fabs(r));
        if (d.max_reference == 0) {
            d.max_rest = fmax(d.max_rest, difference);
        } else if (fabs(r) >= threshold) {
            d.n_significant++;
            if (difference / fabs(r) > d.max_relative) d.max_relative = difference / fabs(r), d.worst_index = k;
        } else {
            d.max_rest = fmax(d.max_rest, difference / d.max_reference);
        }
    }
    return d;
}

/* |ours - ref| / |ref| (the absolute difference when ref is 0). */
static double relative(double ours, double reference) {
    double difference = fabs(ours - reference);
    return reference != 0 ? difference / fabs(reference) : difference;
}

/* Whether a reference entry describes the case or its loss rather than a
 * parameter's gradient. */
static bool is_case_entry(const char *name) {
    return strncmp(name, "loss.", 5) == 0 || strncmp(name, "case.", 5) == 0;
}

/* The loss parts and every row's CE against the reference's; returns the
 * number of parts out of tolerance. */
static int compare_losses(const safetensors_file *reference, const model_loss_parts *parts, const double *row_ce,
                          int L, double lens_weight, const bool *lens_rows) {
    double total, final_ce, lens_ce, expected_rows[MAX_LAYERS + 1];
    if (reference_doubles(reference, "loss.total", &total, 1) != 1 ||
        reference_doubles(reference, "loss.final_ce", &final_ce, 1) != 1 ||
        reference_doubles(reference, "loss.lens_ce", &lens_ce, 1) != 1 ||
        reference_doubles(reference, "loss.row_ce", expected_rows, MAX_LAYERS + 1) != L + 1) {
        fprintf(stderr, "test_finetune_gradient: the reference lacks loss.total, loss.final_ce, loss.lens_ce or "
                        "loss.row_ce (L+1)\n");
        return 1;
    }
    int failures = 0;
    double d_total = relative(parts->loss, total), d_final = relative(parts->final_ce, final_ce);
    double d_lens = relative(parts->lens_ce, lens_ce);
    printf("  loss %.9f (reference %.9f, relative difference %.2e); final CE %.9f (%.2e); lens CE %.9f (%.2e)\n",
           parts->loss, total, d_total, parts->final_ce, d_final, parts->lens_ce, d_lens);
    failures += d_total > LOSS_TOLERANCE;
    failures += d_final > LOSS_TOLERANCE;
    failures += d_lens > LOSS_TOLERANCE;
    double worst_row = 0;
    for (int l = 0; l <= L; l++) {
        bool needed = l == L || (lens_weight > 0 && lens_rows[l]);
        if (isnan(row_ce[l])) {
            if (needed) {
                fprintf(stderr, "  row %d: CE not computed (NaN) although the loss needs it\n", l);
                failures++;
            }
            continue;
        }
        double d = relative(row_ce[l], expected_rows[l]);
        worst_row = fmax(worst_row, d);
        if (d > LOSS_TOLERANCE) {
            fprintf(stderr, "  row %d: CE %.9f, reference %.9f\n", l, row_ce[l], expected_rows[l]);
            failures++;
        }
    }
    printf("  rows' CE: largest relative difference %.2e\n", worst_row);
    if (failures) fprintf(stderr, "  %d loss parts differ by more than %g relative\n", failures, LOSS_TOLERANCE);
    return failures;
}

/* Writes loupe's gradients (grads, params->n_values) under the parameters'
 * names, "loss.parts" (loss, final CE, lens CE) and "loss.row_ce" (L+1)
 * into path, for a closer look at a failure. */
static loupe_status write_ours(const char *path, const train_parameters *params, const float *grads,
                               const model_loss_parts *parts, const double *row_ce, int L, loupe_error *error) {
    size_t n = params->n_tensors + 2;
    safetensors_typed_entry *entries = calloc(n, sizeof *entries);
    float *losses = malloc((size_t)(L + 4) * sizeof *losses);
    if (entries == NULL || losses == NULL) {
        free(entries);
        free(losses);
        return LOUPE_ERROR_MEMORY;
    }
    for (size_t i = 0; i < params->n_tensors; i++) {
        const train_tensor *t = &params->tensors[i];
        entries[i] = (safetensors_typed_entry){t->name, SAFETENSORS_WRITE_F32, t->n_dims, {0}, grads + t->offset};
        for (int k = 0; k < t->n_dims; k++) entries[i].shape[k] = t->shape[k];
    }
    losses[0] = (float)parts->loss, losses[1] = (float)parts->final_ce, losses[2] = (float)parts->lens_ce;
    for (int l = 0; l <= L; l++) losses[3 + l] = (float)row_ce[l];
    entries[params->n_tensors] = (safetensors_typed_entry){"loss.parts", SAFETENSORS_WRITE_F32, 1, {3}, losses};
    entries[params->n_tensors + 1] =
        (safetensors_typed_entry){"loss.row_ce", SAFETENSORS_WRITE_F32, 1, {L + 1}, losses + 3};
    loupe_status status = safetensors_write_file(path, entries, n, NULL, 0, error);
    free(entries);
    free(losses);
    return status;
}

/* Every parameter of ours against the reference; returns the number of
 * tensors out of tolerance (or missing on either side). */
static int compare_gradients(const safetensors_file *reference, const train_parameters *params, const float *grads) {
    int failures = 0;
    size_t matched = 0, largest = 0;
    for (size_t i = 0; i < reference->n_tensors; i++)
        largest = (size_t)reference->tensors[i].n_elements > largest ? (size_t)reference->tensors[i].n_elements
                                                                      : largest;
    float *expected = malloc((largest > 0 ? largest : 1) * sizeof *expected);
    if (expected == NULL) return 1;
    double worst_relative = 0, worst_rest = 0;
    double worst_reported = 0;
    const char *worst_relative_name = "-", *worst_rest_name = "-", *worst_reported_name = "-";
    for (size_t i = 0; i < reference->n_tensors; i++) {
        const tensor_view *view = &reference->tensors[i];
        if (is_case_entry(view->name)) continue;
        const train_tensor *t = train_parameters_find(params, view->name);
        if (t == NULL || t->count != (size_t)view->n_elements) {
            fprintf(stderr, "  %s: %s\n", view->name, t == NULL ? "not among loupe's parameters" : "size differs");
            failures++;
            continue;
        }
        matched++;
        loupe_error error;
        if (tensor_to_f32(view, expected, &error) != LOUPE_OK) {
            fprintf(stderr, "  %s: %s\n", view->name, error.message);
            failures++;
            continue;
        }
        tensor_difference d = compare_tensor(grads + t->offset, expected, t->count);
        bool bad = d.max_relative > GRADIENT_TOLERANCE || d.max_rest > REST_TOLERANCE;
        if (bad || getenv("LOUPE_TEST_VERBOSE") != NULL)
            fprintf(bad ? stderr : stdout,
                    "  %s%s: max|ref| %.3e, %zu of %zu entries significant, max relative %.2e (entry %zu: ours %.9e "
                    "ref %.9e), rest %.2e; relative over |ref| >= %g max: %.2e\n",
                    bad ? "DIFFERS " : "", view->name, d.max_reference, d.n_significant, t->count, d.max_relative,
                    d.worst_index, (double)grads[t->offset + d.worst_index], (double)expected[d.worst_index],
                    d.max_rest, REPORTED_FRACTION, d.reported_relative);
        failures += bad;
        if (d.max_relative > worst_relative) worst_relative = d.max_relative, worst_relative_name = t->name;
        if (d.max_rest > worst_rest) worst_rest = d.max_rest, worst_rest_name = t->name;
        if (d.reported_relative > worst_reported) worst_reported = d.reported_relative, worst_reported_name = t->name;
    }
    free(expected);
    if (matched != params->n_tensors) {
        fprintf(stderr, "  the reference has %zu of loupe's %zu parameter tensors\n", matched, params->n_tensors);
        failures++;
    }
    printf("  gradients: %zu tensors; largest relative difference over |ref| >= %g max|ref| %.2e (%s) [bound %g]; "
           "rest, relative to max|ref|: %.2e (%s) [bound %g]; relative over |ref| >= %g max|ref| (reported): %.2e "
           "(%s)\n",
           matched, SIGNIFICANT_FRACTION, worst_relative, worst_relative_name, GRADIENT_TOLERANCE, worst_rest,
           worst_rest_name, REST_TOLERANCE, REPORTED_FRACTION, worst_reported,
           worst_reported_name);
    return failures;
}

/* The ids (B, T+1) of the windows file (caller frees); NULL on error. */
static int32_t *read_windows(const char *path, int *B, int *T) {
    safetensors_file file;
    loupe_error error;
    if (safetensors_open(path, &file, &error) != LOUPE_OK) {
        fail(path, &error);
        return NULL;
    }
    const tensor_view *view = safetensors_find(&file, "ids");
    int32_t *ids = NULL;
    if (view != NULL && view->dtype == TENSOR_DTYPE_I32 && view->n_dims == 2 && view->shape[1] >= 2) {
        *B = (int)view->shape[0], *T = (int)view->shape[1] - 1;
        ids = malloc(view->n_bytes);
        if (ids != NULL) memcpy(ids, view->data, view->n_bytes);
    } else {
        fprintf(stderr, "test_finetune_gradient: %s: no int32 \"ids\" of shape (B, T+1)\n", path);
    }
    safetensors_close(&file);
    return ids;
}

/* The compare step: loupe's gradient of the reference's case on the
 * windows, against the reference; the exit status (0, 1 or 77). */
static int compare(const char *model_dir, const char *windows, const char *reference_path, const char *out_path) {
    loupe_error error;
    int B = 0, T = 0;
    int32_t *ids = read_windows(windows, &B, &T);
    if (ids == NULL) return 1;
    safetensors_file reference;
    memset(&reference, 0, sizeof reference);
    loupe_model *model = NULL;
    train_parameters params;
    memset(&params, 0, sizeof params);
    model_gradient *gradient = NULL;
    float *grads = NULL;
    int status = 1;
    if (safetensors_open(reference_path, &reference, &error) != LOUPE_OK) {
        fail(reference_path, &error);
        goto done;
    }
    if (loupe_model_open(model_dir, &model, &error) != LOUPE_OK) {
        fail(model_dir, &error);
        goto done;
    }
    loupe_model_info info;
    loupe_model_get_info(model, &info);
    const int L = info.n_layer;
    double lens_weight, selected[MAX_LAYERS];
    int64_t n_selected = reference_doubles(&reference, "case.lens_rows", selected, MAX_LAYERS);
    bool lens_rows[MAX_LAYERS] = {false};
    if (L > MAX_LAYERS || reference_doubles(&reference, "case.lens_weight", &lens_weight, 1) != 1 || n_selected < 0) {
        fprintf(stderr, "test_finetune_gradient: %s lacks case.lens_weight or case.lens_rows\n", reference_path);
        goto done;
    }
    for (int64_t k = 0; k < n_selected; k++) {
        if (selected[k] < 0 || selected[k] >= L) goto done;
        lens_rows[(int)selected[k]] = true;
    }
    printf("%s: B %d, T %d, lambda %g, %d lens rows\n", model_dir, B, T, lens_weight, (int)n_selected);
    if (train_parameters_load(model, &params, &error) != LOUPE_OK) {
        fail("train_parameters_load", &error);
        goto done;
    }
    model_loss_settings settings = {lens_weight, lens_rows};
    loupe_status created = model_gradient_create(model, &params, B, T, &settings, &gradient, &error);
    if (created == LOUPE_ERROR_UNSUPPORTED) {
        printf("skipped: model_gradient refuses the family %s as unsupported: %s\n", info.model_type, error.message);
        status = TEST_SKIP_STATUS;
        goto done;
    }
    if (created != LOUPE_OK) {
        fail("model_gradient_create", &error);
        goto done;
    }
    grads = calloc(params.n_values, sizeof *grads);
    double row_ce[MAX_LAYERS + 1];
    for (int l = 0; l <= L; l++) row_ce[l] = NAN; /* a row model_gradient leaves alone: not computed */
    model_loss_parts parts;
    if (grads == NULL) goto done;
    if (model_gradient_accumulate(gradient, &params, ids, B, 1.0, grads, &parts, row_ce, &error) != LOUPE_OK) {
        fail("model_gradient_accumulate", &error);
        goto done;
    }
    if (out_path != NULL && write_ours(out_path, &params, grads, &parts, row_ce, L, &error) != LOUPE_OK) {
        fail(out_path, &error);
        goto done;
    }
    int failures = compare_losses(&reference, &parts, row_ce, L, lens_weight, lens_rows);
    failures += compare_gradients(&reference, &params, grads);
    /* the evaluation's forward-only pass (no gradient buffer): the same losses */
    for (int l = 0; l <= L; l++) row_ce[l] = NAN;
    if (model_gradient_accumulate(gradient, &params, ids, B, 1.0, NULL, &parts, row_ce, &error) != LOUPE_OK) {
        fail("model_gradient_accumulate without gradients", &error);
        goto done;
    }
    printf("  forward only:\n");
    failures += compare_losses(&reference, &parts, row_ce, L, lens_weight, lens_rows);
    printf("  %s\n", failures == 0 ? "agrees with the reference" : "DIFFERS from the reference");
    status = failures == 0 ? 0 : 1;
done:
    free(grads);
    model_gradient_free(gradient);
    train_parameters_free(&params);
    loupe_model_close(model);
    safetensors_close(&reference);
    free(ids);
    return status;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0); /* the report's lines in order with stderr's */
    if (argc == 7 && strcmp(argv[1], "windows") == 0) {
        char *end;
        uint64_t seed = strtoull(argv[5], &end, 10);
        return write_windows(argv[2], atoi(argv[3]), atoi(argv[4]), seed, argv[6]);
    }
    if ((argc == 5 || argc == 6) && strcmp(argv[1], "compare") == 0)
        return compare(argv[2], argv[3], argv[4], argc == 6 ? argv[5] : NULL);
    return usage();
}
