/*
 * test_cpu_features.c - the level the kernels run (src/util/cpu_features.h):
 * the names, the clamping rule, the detected level against the flags the
 * kernel reports in /proc/cpuinfo, and what LOUPE_CPU does. ctest runs it
 * with LOUPE_CPU unset, set to each level and set to a value that names
 * none; the expectations follow from the value this run was given.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loupe.h"
#include "test_support.h"
#include "util/cpu_features.h"

static void test_parse(void) {
    const char *const names[] = {"portable", "avx2", "avx512"};
    for (int i = 0; i < 3; i++) {
        cpu_level level = CPU_LEVEL_PORTABLE;
        CHECK_MSG(cpu_level_parse(names[i], &level) && (int)level == i, "%s", names[i]);
        CHECK(strcmp(cpu_level_name((cpu_level)i), names[i]) == 0);
    }
    /* Exactly the three names: no case folding, prefixes, spaces or aliases. */
    const char *const rejected[] = {"", "AVX2", "Portable", "avx", "avx5", "avx5120", "avx512 ", " avx2",
                                    "avx512f", "sse2", "native", "2"};
    for (size_t i = 0; i < sizeof rejected / sizeof rejected[0]; i++) {
        cpu_level level = CPU_LEVEL_AVX2;
        CHECK_MSG(!cpu_level_parse(rejected[i], &level) && level == CPU_LEVEL_AVX2, "'%s' accepted", rejected[i]);
    }
    CHECK(strcmp(cpu_level_name((cpu_level)7), "unknown") == 0);
}

/* A request runs as asked up to the CPU's level, and as the CPU's level above it. */
static void test_resolve(void) {
    const cpu_level P = CPU_LEVEL_PORTABLE, A2 = CPU_LEVEL_AVX2, A5 = CPU_LEVEL_AVX512;
    const cpu_level cases[][3] = {{P, P, P},   {P, A2, P},   {P, A5, P},   {A2, P, P},  {A2, A2, A2},
                                  {A2, A5, A2}, {A5, P, P}, {A5, A2, A2}, {A5, A5, A5}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_MSG(cpu_level_resolve(cases[i][0], cases[i][1]) == cases[i][2], "request %s on %s gave %s",
                  cpu_level_name(cases[i][0]), cpu_level_name(cases[i][1]),
                  cpu_level_name(cpu_level_resolve(cases[i][0], cases[i][1])));
}

/* Whether the first "flags" line of /proc/cpuinfo lists flag; -1 when the file cannot be read. */
static int cpuinfo_has(const char *cpuinfo, const char *flag) {
    if (cpuinfo == NULL) return -1;
    const char *line = strncmp(cpuinfo, "flags", 5) == 0 ? cpuinfo : strstr(cpuinfo, "\nflags");
    if (line == NULL) return -1;
    const char *end = strchr(line + 1, '\n');
    size_t length = strlen(flag);
    for (const char *p = strstr(line, flag); p != NULL && (end == NULL || p < end); p = strstr(p + 1, flag))
        if (p > line && (p[-1] == ' ' || p[-1] == '\t') && (p[length] == ' ' || p[length] == '\n')) return 1;
    return 0;
}

/* The text of /proc/cpuinfo (caller frees) or NULL; read to its end, as
 * the file reports no size. */
static char *read_cpuinfo(void) {
    FILE *file = fopen("/proc/cpuinfo", "r");
    if (file == NULL) return NULL;
    size_t capacity = 1 << 16, length = 0;
    char *text = malloc(capacity + 1);
    while (text != NULL) {
        length += fread(text + length, 1, capacity - length, file);
        if (length < capacity) break;
        char *larger = realloc(text, 2 * capacity + 1);
        if (larger == NULL) free(text);
        text = larger;
        capacity *= 2;
    }
    fclose(file);
    if (text != NULL) text[length] = '\0';
    return text;
}

/* The detected level against the kernel's view of the CPU (x86-64 Linux only). */
static void test_detected(void) {
#if defined(__x86_64__) && defined(__linux__)
    char *cpuinfo = read_cpuinfo();
    const char *avx2_flags[] = {"avx", "avx2", "fma", "f16c"};
    const char *avx512_flags[] = {"avx512f", "avx512vl", "avx512dq"};
    int avx2 = 1, avx512 = 1;
    for (int i = 0; i < 4 && avx2 >= 0; i++) {
        int has = cpuinfo_has(cpuinfo, avx2_flags[i]);
        avx2 = has < 0 ? -1 : avx2 && has;
    }
    for (int i = 0; i < 3 && avx512 >= 0; i++) {
        int has = cpuinfo_has(cpuinfo, avx512_flags[i]);
        avx512 = has < 0 ? -1 : avx512 && has;
    }
    free(cpuinfo);
    if (avx2 < 0 || avx512 < 0) {
        printf("test_cpu_features: /proc/cpuinfo unreadable: detection not compared\n");
        return;
    }
    cpu_level expected = avx2 && avx512 ? CPU_LEVEL_AVX512 : (avx2 ? CPU_LEVEL_AVX2 : CPU_LEVEL_PORTABLE);
    CHECK_MSG(cpu_features_detected() == expected, "detected %s, /proc/cpuinfo says %s",
              cpu_level_name(cpu_features_detected()), cpu_level_name(expected));
#endif
}

/* The level of this run and the check, from the LOUPE_CPU this run was given. */
static void test_override(void) {
    const char *value = getenv("LOUPE_CPU");
    const cpu_level detected = cpu_features_detected(), level = cpu_features_level();
    loupe_error error = {0};
    loupe_status status = cpu_features_check(&error);
    cpu_level requested = CPU_LEVEL_PORTABLE;
    loupe_status expected_status = LOUPE_OK;
    cpu_level expected_level = detected;
    if (value != NULL && value[0] != '\0') {
        if (!cpu_level_parse(value, &requested))
            expected_status = LOUPE_ERROR_ARGUMENT;
        else if (requested > detected)
            expected_status = LOUPE_ERROR_UNSUPPORTED;
        else
            expected_level = requested;
    }
    printf("test_cpu_features: LOUPE_CPU=%s, CPU %s, running %s\n", value != NULL ? value : "(unset)",
           cpu_level_name(detected), cpu_level_name(level));
    CHECK_MSG(level == expected_level, "level %s, expected %s", cpu_level_name(level),
              cpu_level_name(expected_level));
    CHECK_MSG(status == expected_status, "check gave %d, expected %d (%s)", (int)status, (int)expected_status,
              error.message);
    if (expected_status == LOUPE_ERROR_ARGUMENT)
        CHECK_MSG(strstr(error.message, "LOUPE_CPU") != NULL && strstr(error.message, value) != NULL &&
                      strstr(error.message, "portable, avx2 or avx512") != NULL,
                  "%s", error.message);
    if (expected_status == LOUPE_ERROR_UNSUPPORTED)
        CHECK_MSG(strstr(error.message, cpu_level_name(requested)) != NULL &&
                      strstr(error.message, cpu_level_name(detected)) != NULL,
                  "%s", error.message);
    if (expected_status == LOUPE_OK) CHECK(error.message[0] == '\0');

    /* Opening a model refuses the same values with the same message. */
    loupe_model *model = NULL;
    loupe_error open_error = {0};
    loupe_status open_status = loupe_model_open(test_model_path("gpt2-demo"), &model, &open_error);
    CHECK_MSG(open_status == expected_status, "loupe_model_open gave %d (%s)", (int)open_status,
              open_error.message);
    if (expected_status != LOUPE_OK) CHECK(model == NULL && strcmp(open_error.message, error.message) == 0);
    loupe_model_close(model);
}

int main(void) {
    test_parse();
    test_resolve();
    test_detected();
    test_override();
    return test_finish("test_cpu_features");
}
