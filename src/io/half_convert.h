/*
 * half_convert.h - IEEE binary16 (F16) and bfloat16 (BF16) to float32: the
 * conversions of half-precision checkpoints, used at load for vectors and
 * panel by panel for weight matrices (kernels/weight_view.h).
 *
 * Two bodies: the F16C instruction vcvtph2ps at the avx2 and avx512 levels
 * (util/cpu_features.h), and plain C at portable, which is also the
 * reference twin, half_to_f32_reference. They agree bit for
 * bit on every input except signalling NaNs, which F16C returns quieted
 * (same sign; the portable body keeps the payload as it is).
 */
#ifndef LOUPE_IO_HALF_CONVERT_H
#define LOUPE_IO_HALF_CONVERT_H

#include <stdint.h>

/* bytes (n_elements x 2), little-endian binary16 at any alignment -> out
 * (n_elements). Exact: subnormals, infinities and NaNs included. Large
 * arrays are split among the OpenMP threads (each element is converted on
 * its own, so the result does not depend on the thread count). */
void half_to_f32(const uint8_t *bytes, int64_t n_elements, float *out);

/* The same on the calling thread only, with the level's body: for
 * callers that convert small panels inside work of their own. */
void half_to_f32_serial(const uint8_t *bytes, int64_t n_elements, float *out);

/* bytes (n_elements x 2), little-endian bfloat16 at any alignment -> out
 * (n_elements), on the calling thread: each float is the 16 bits shifted
 * up, exact for every input. */
void bfloat16_to_f32(const uint8_t *bytes, int64_t n_elements, float *out);

/* The same, one element at a time in plain C on the calling thread: the
 * portable body, and the oracle the F16C one is tested against. */
void half_to_f32_reference(const uint8_t *bytes, int64_t n_elements, float *out);

#endif
