/*
 * test_reference.h - reading the reference tensors the fixtures store
 * (each fixture folder's reference.safetensors and the like, written by PyTorch):
 * the token ids and any tensor as float32.
 */
#ifndef LOUPE_TEST_REFERENCE_H
#define LOUPE_TEST_REFERENCE_H

#include <stdint.h>

#include "io/safetensors.h"

/* A float32 copy of file's tensor `name`, which must hold n elements (any
 * count when n < 0); NULL when it is absent, holds another count, or memory
 * runs out. Caller frees. */
float *test_tensor_f32(const safetensors_file *file, const char *name, int64_t n);

/* Copies file's input_ids (I32, at most max of them) into ids (max):
 * their count, or -1 when absent, of another dtype or too many. */
int test_input_ids(const safetensors_file *file, int32_t *ids, int max);

#endif
