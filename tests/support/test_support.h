/*
 * test_support.h - a small assertion kit shared by the test programs.
 *
 * CHECK records a failure and goes on, so one run reports every broken
 * assertion; test_finish() turns the count into the exit status.
 */
#ifndef LOUPE_TEST_SUPPORT_H
#define LOUPE_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

extern int test_failures;
extern int test_checks;

#define CHECK(condition)                                                                   \
    do {                                                                                   \
        test_checks++;                                                                     \
        if (!(condition)) {                                                                \
            test_failures++;                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #condition); \
        }                                                                                  \
    } while (0)

#define CHECK_MSG(condition, ...)                                           \
    do {                                                                    \
        test_checks++;                                                      \
        if (!(condition)) {                                                 \
            test_failures++;                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #condition); \
            fprintf(stderr, __VA_ARGS__);                                   \
            fputc('\n', stderr);                                            \
        }                                                                   \
    } while (0)

/* Stops the test program at once (for a missing precondition). */
#define REQUIRE(condition)                                                                   \
    do {                                                                                     \
        test_checks++;                                                                       \
        if (!(condition)) {                                                                  \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #condition);  \
            return 1;                                                                        \
        }                                                                                    \
    } while (0)

/* Prints a summary; returns the process exit status (0 when all passed). */
int test_finish(const char *name);

/* The exit status ctest reads as a skip (SKIP_RETURN_CODE). */
enum { TEST_SKIP_STATUS = 77 };

/* For the tests that run once per level (LOUPE_CPU, util/cpu_features.h):
 * prints which level runs; exits with TEST_SKIP_STATUS, saying so, when
 * LOUPE_CPU asks for a level this CPU lacks, and with 1 when it names no
 * level, so a body is never reported as tested when it did not run. */
void test_require_cpu_level(const char *name);

/* The test data folder (LOUPE_TEST_DATA) joined with a relative path; a
 * static buffer, valid until the next call. */
const char *test_data_path(const char *relative);

/* The embedded models folder (LOUPE_MODELS) joined with a relative path. */
const char *test_model_path(const char *relative);

/* A uniform double in [0, 1) from the xorshift generator *state (any
 * non-zero seed): the same sequence for the same seed on every machine. */
double test_random_unit(uint64_t *state);

/* Largest |a[i] - b[i]| over n floats. */
double test_max_abs_diff(const float *a, const float *b, size_t n);

/* Makes a fresh temporary directory (caller frees the string) or NULL. */
char *test_make_temp_dir(void);

/* Removes a directory tree made by test_make_temp_dir. */
void test_remove_tree(const char *path);

/* Copies a file; returns 0 on success. */
int test_copy_file(const char *from, const char *to);

/* Writes bytes to a file; returns 0 on success. */
int test_write_file(const char *path, const void *data, size_t size);

/* Reads a whole file (caller frees) or NULL. */
char *test_read_file(const char *path, size_t *size);

#endif
