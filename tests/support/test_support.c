/*
 * test_support.c - see test_support.h.
 */
#define _XOPEN_SOURCE 700
#include "test_support.h"

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cpu_features.h"

int test_failures = 0;
int test_checks = 0;

int test_finish(const char *name) {
    if (test_failures == 0) {
        printf("%s: all %d checks passed\n", name, test_checks);
        return 0;
    }
    printf("%s: %d of %d checks FAILED\n", name, test_failures, test_checks);
    return 1;
}

void test_require_cpu_level(const char *name) {
    loupe_error error = {0};
    loupe_status status = cpu_features_check(&error);
    if (status == LOUPE_ERROR_UNSUPPORTED) {
        printf("%s: skipped: %s\n", name, error.message);
        exit(TEST_SKIP_STATUS);
    }
    if (status != LOUPE_OK) {
        printf("%s: %s\n", name, error.message);
        exit(1);
    }
    printf("%s: kernels at level %s (this CPU: %s)\n", name, cpu_level_name(cpu_features_level()),
           cpu_level_name(cpu_features_detected()));
}

static const char *join_env(const char *variable, const char *fallback, const char *relative) {
    static char buffer[4096];
    const char *root = getenv(variable);
    if (root == NULL || root[0] == '\0') root = fallback;
    snprintf(buffer, sizeof buffer, "%s/%s", root, relative);
    return buffer;
}

const char *test_data_path(const char *relative) { return join_env("LOUPE_TEST_DATA", "tests/data", relative); }

const char *test_model_path(const char *relative) { return join_env("LOUPE_MODELS", "models", relative); }

double test_max_abs_diff(const float *a, const float *b, size_t n) {
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= worst)) worst = d; /* NaN propagates as a failure */
    }
    return worst;
}

char *test_make_temp_dir(void) {
    char pattern[] = "/tmp/loupe-test-XXXXXX";
    if (mkdtemp(pattern) == NULL) return NULL;
    return strdup(pattern);
}

static int remove_entry(const char *path, const struct stat *info, int flag, struct FTW *walk) {
    (void)info;
    (void)flag;
    (void)walk;
    return remove(path);
}

void test_remove_tree(const char *path) {
    if (path) nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

char *test_read_file(const char *path, size_t *size) {
    FILE *file = fopen(path, "rb");
    if (file == NULL) return NULL;
    fseek(file, 0, SEEK_END);
    long length = ftell(file);
    fseek(file, 0, SEEK_SET);
    char *data = malloc((size_t)length + 1);
    if (data && fread(data, 1, (size_t)length, file) != (size_t)length) {
        free(data);
        data = NULL;
    }
    fclose(file);
    if (data) {
        data[length] = '\0';
        if (size) *size = (size_t)length;
    }
    return data;
}

int test_write_file(const char *path, const void *data, size_t size) {
    FILE *file = fopen(path, "wb");
    if (file == NULL) return -1;
    size_t wrote = fwrite(data, 1, size, file);
    return (fclose(file) == 0 && wrote == size) ? 0 : -1;
}

int test_copy_file(const char *from, const char *to) {
    size_t size = 0;
    char *data = test_read_file(from, &size);
    if (data == NULL) return -1;
    int status = test_write_file(to, data, size);
    free(data);
    return status;
}

double test_random_unit(uint64_t *state) {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return (double)((*state * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0;
}
