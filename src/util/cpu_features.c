/*
 * cpu_features.c - detection of the CPU's level and the LOUPE_CPU override
 * (see cpu_features.h).
 *
 * GCC's __builtin_cpu_supports reports AVX and AVX-512 features only when
 * the OS has enabled their registers (XGETBV), so a level found here can
 * be run. F16C is read from CPUID leaf 1 (clang 14's builtin does not know
 * the name); it needs nothing beyond AVX's registers.
 */
#define _DEFAULT_SOURCE /* syscall() */
#include "util/cpu_features.h"

#include <pthread.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
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
    bool bf16; /* the CPU has AVX512_BF16 (CPUID leaf 7, sub-leaf 1, EAX bit 5) */
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

/* AVX512_BF16 from CPUID (clang 14's builtin does not know the name); its
 * registers are AVX-512's, which detect_level checked the OS saves. */
static bool detect_bf16(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0;
    return __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) && (eax & (1u << 5)) != 0;
#else
    return false;
#endif
}

static void decide_level(void) {
    features.detected = detect_level();
    features.bf16 = features.detected >= CPU_LEVEL_AVX512 && detect_bf16();
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

bool cpu_features_bf16(void) {
    pthread_once(&features_once, decide_level);
    return features.bf16 && features.chosen >= CPU_LEVEL_AVX512;
}

/* AMX-TILE and AMX-BF16 (CPUID leaf 7, EDX bits 24 and 22), the OS saving
 * the tile state (XCR0 bits 17 and 18), and this process allowed to use it. */
static bool amx_bf16;
static pthread_once_t amx_once = PTHREAD_ONCE_INIT;

static void detect_amx_bf16(void) {
#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
    unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) || (edx & (1u << 24)) == 0 || (edx & (1u << 22)) == 0)
        return;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || (ecx & bit_OSXSAVE) == 0) return;
    unsigned int xcr0_low = 0, xcr0_high = 0;
    __asm__ volatile("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
    if ((xcr0_low & (3u << 17)) != (3u << 17)) return;
    /* ARCH_REQ_XCOMP_PERM (0x1023) for XFEATURE_XTILEDATA (18) */
    amx_bf16 = syscall(SYS_arch_prctl, 0x1023, 18) == 0;
#endif
}

bool cpu_features_amx_bf16(void) {
    if (!cpu_features_bf16()) return false;
    pthread_once(&amx_once, detect_amx_bf16);
    return amx_bf16;
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
