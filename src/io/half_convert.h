/*
 * half_convert.h - IEEE binary16 (F16) to float32, the conversion F16
 * checkpoints spend their load time in.
 *
 * Two bodies: the F16C instruction vcvtph2ps, chosen at run time on x86-64
 * CPUs that have it, and plain C (the reference twin). They agree bit for
 * bit on every input except signalling NaNs, which F16C returns quieted
 * (same sign; the portable body keeps the payload as it is).
 */
#ifndef LOUPE_IO_HALF_CONVERT_H
#define LOUPE_IO_HALF_CONVERT_H

#include <stdbool.h>
#include <stdint.h>

/* bytes (n_elements x 2), little-endian binary16 at any alignment -> out
 * (n_elements). Exact: subnormals, infinities and NaNs included. Large
 * arrays are split among the OpenMP threads (each element is converted on
 * its own, so the result does not depend on the thread count). */
void half_to_f32(const uint8_t *bytes, int64_t n_elements, float *out);

/* Selects the plain C body instead of the F16C one (for tests); returns
 * whether the F16C body is available on this CPU. */
bool half_to_f32_use_portable(bool portable);

#endif
