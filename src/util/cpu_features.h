/*
 * cpu_features.h - which instruction set the kernels run, decided once.
 *
 * Every kernel with more than one body (tile_gemm, vector_exp, the fused
 * lens statistics, the F16 conversion) asks cpu_features_level() which to
 * run; nothing else looks at the CPU. The levels are ordered, each one
 * including the one below:
 *
 *   portable  plain C, any CPU
 *   avx2      x86-64 with AVX, AVX2, FMA and F16C, and an OS that saves ymm
 *   avx512    avx2 and AVX-512 F, VL and DQ, and an OS that saves zmm
 *
 * The level is the best this CPU has, unless the environment variable
 * LOUPE_CPU names a lower one (portable, avx2 or avx512, lowercase; unset or
 * empty means the best). A value that names no level, or a level this CPU
 * lacks, is never run: the kernels take the CPU's best level and
 * cpu_features_check reports the value as an error (loupe_model_open
 * refuses to open a model with it), so a mistyped override cannot pass
 * unnoticed.
 *
 * Two features stand outside the levels: AVX512_BF16 (vdpbf16ps) and AMX's
 * BF16 tiles, which only the opt-in bf16 lens uses (kernels/bf16_gemm.h).
 * They are offered when the level in force is avx512 and the CPU has them;
 * no kernel emulates them.
 */
#ifndef LOUPE_UTIL_CPU_FEATURES_H
#define LOUPE_UTIL_CPU_FEATURES_H

#include <stdbool.h>

#include "loupe.h"

typedef enum cpu_level {
    CPU_LEVEL_PORTABLE = 0,
    CPU_LEVEL_AVX2 = 1,
    CPU_LEVEL_AVX512 = 2,
} cpu_level;

/* The level the kernels run (see above). Detected and read from LOUPE_CPU
 * on the first call, from any thread; later calls only read the result. */
cpu_level cpu_features_level(void);

/* The best level this CPU (and its OS) supports, whatever LOUPE_CPU says. */
cpu_level cpu_features_detected(void);

/* Whether the AVX512_BF16 instructions may run: the level in force is
 * avx512 (so LOUPE_CPU=avx2 or portable turns them off) and the CPU has
 * them. */
bool cpu_features_bf16(void);

/* Whether the AMX tile unit's BF16 product (TDPBF16PS) may run: as
 * cpu_features_bf16, the CPU has AMX-TILE and AMX-BF16, and the OS granted
 * this process the tile registers (Linux's arch_prctl ARCH_REQ_XCOMP_PERM,
 * asked on the first call). */
bool cpu_features_amx_bf16(void);

/* LOUPE_OK when LOUPE_CPU is unset, empty, or a level this CPU has; else
 * LOUPE_ERROR_ARGUMENT (a value that names no level) or
 * LOUPE_ERROR_UNSUPPORTED (a level above the CPU's), with a message naming
 * the value. */
loupe_status cpu_features_check(loupe_error *error);

/* "portable", "avx2" or "avx512". */
const char *cpu_level_name(cpu_level level);

/* *level <- the level named by text (exactly one of the names above);
 * returns false, leaving *level alone, for any other text. */
bool cpu_level_parse(const char *text, cpu_level *level);

/* The level to run for a valid request on a CPU whose best is detected:
 * the lower of the two (a request above the CPU is clamped to it). */
cpu_level cpu_level_resolve(cpu_level requested, cpu_level detected);

#endif
