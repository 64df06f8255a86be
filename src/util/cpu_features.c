/*
 * cpu_features.c - detection of the CPU's level and the LOUPE_CPU override
 * (see cpu_features.h).
 *
 * GCC's __builtin_cpu_supports reports AVX and AVX-512 features only when
 * the OS has enabled their registers (XGETBV), so a level found here can
 * be run. F16C is read from CPUID leaf 1 (clang 14's builtin does not know
 * the name); it needs nothing beyond AVX's registers.
 */
#include "util/cpu_features.h"

#include <pthread.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

static const char *const level_names[] = {"portable", "avx2", "avx512"};

/* What the first call found: the CPU's level, the level the kernels run,
 * whether LOUPE_CPU was set (and not empty), whether it named a level and
 * which, and its text (cut to fit) for the messages. */
enum { CPU_FEATURES_VALUE_CAPACITY = 64 };
static struct {
    cpu_level detected, chosen;
    bool overridden, valid;
    cpu_level requested;
    char value[CPU_FEATURES_VALUE_CAPACITY];
} features;
static pthread_once_t features_once = PTHREAD_ONCE_INIT;

static cpu_level detect_level(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0;
    bool f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C) != 0;
    bool avx2 = __builtin_cpu_supports("avx") && __builtin_cpu_supports("avx2") &&
                __builtin_cpu_supports("fma") && f16c;
    bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                  __builtin_cpu_supports("avx512dq");
    return avx512 ? CPU_LEVEL_AVX512 : (avx2 ? CPU_LEVEL_AVX2 : CPU_LEVEL_PORTABLE);
#else
    return CPU_LEVEL_PORTABLE;
#endif
}

static void decide_level(void) {
    features.detected = detect_level();
    features.chosen = features.detected;
    const char *value = getenv("LOUPE_CPU");
    if (value == NULL || value[0] == '\0') return;
    features.overridden = true;
    /* Longer values are cut for the message; they name no level anyway. */
    snprintf(features.value, sizeof features.value, "%s", value);
    features.valid = strlen(value) < sizeof features.value && cpu_level_parse(value, &features.requested);
    if (features.valid) features.chosen = cpu_level_resolve(features.requested, features.detected);
}

cpu_level cpu_features_level(void) {
    pthread_once(&features_once, decide_level);
    return features.chosen;
}

cpu_level cpu_features_detected(void) {
    pthread_once(&features_once, decide_level);
    return features.detected;
}

loupe_status cpu_features_check(loupe_error *error) {
    pthread_once(&features_once, decide_level);
    if (!features.overridden) return LOUPE_OK;
    if (!features.valid)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "LOUPE_CPU='%s': not a level (portable, avx2 or avx512)",
                         features.value);
    if (features.requested > features.detected)
        return error_set(error, LOUPE_ERROR_UNSUPPORTED, "LOUPE_CPU=%s: this CPU has only %s",
                         cpu_level_name(features.requested), cpu_level_name(features.detected));
    return LOUPE_OK;
}

const char *cpu_level_name(cpu_level level) {
    return (int)level >= 0 && level <= CPU_LEVEL_AVX512 ? level_names[level] : "unknown";
}

bool cpu_level_parse(const char *text, cpu_level *level) {
    for (int i = 0; i <= CPU_LEVEL_AVX512; i++)
        if (strcmp(text, level_names[i]) == 0) {
            *level = (cpu_level)i;
            return true;
        }
    return false;
}

cpu_level cpu_level_resolve(cpu_level requested, cpu_level detected) {
    return requested < detected ? requested : detected;
}
