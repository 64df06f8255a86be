/*
 * byte_buffer.h - little-endian binary encoding: a growing writer and a
 * bounded reader, for the corpus state files (docs/SCALE.md). Every value is
 * written byte by byte in little-endian order whatever the host, doubles and
 * floats as their IEEE-754 bit patterns, so a file means the same on every
 * machine.
 */
#ifndef LOUPE_UTIL_BYTE_BUFFER_H
#define LOUPE_UTIL_BYTE_BUFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growing byte string; `failed` is set (and further writes dropped) once
 * memory runs out, so a writer checks it once at the end. */
typedef struct byte_writer {
    uint8_t *data; /* (size) bytes, capacity allocated; owned */
    size_t size, capacity;
    bool failed;
} byte_writer;

void byte_writer_init(byte_writer *writer);
void byte_writer_free(byte_writer *writer);
void byte_writer_bytes(byte_writer *writer, const void *bytes, size_t length);
void byte_writer_u8(byte_writer *writer, uint8_t value);
void byte_writer_u32(byte_writer *writer, uint32_t value);
void byte_writer_u64(byte_writer *writer, uint64_t value);
void byte_writer_i32(byte_writer *writer, int32_t value);
void byte_writer_i64(byte_writer *writer, int64_t value);
void byte_writer_f32(byte_writer *writer, float value);
void byte_writer_f64(byte_writer *writer, double value);

/* A cursor over size bytes; a read past the end sets `failed`, returns 0
 * and leaves the offset where the short read began (for messages). */
typedef struct byte_reader {
    const uint8_t *data;
    size_t size, offset;
    bool failed;
} byte_reader;

void byte_reader_init(byte_reader *reader, const void *data, size_t size);
/* The next length bytes (NULL, failed set, when fewer remain). */
const uint8_t *byte_reader_bytes(byte_reader *reader, size_t length);
uint8_t byte_reader_u8(byte_reader *reader);
uint32_t byte_reader_u32(byte_reader *reader);
uint64_t byte_reader_u64(byte_reader *reader);
int32_t byte_reader_i32(byte_reader *reader);
int64_t byte_reader_i64(byte_reader *reader);
float byte_reader_f32(byte_reader *reader);
double byte_reader_f64(byte_reader *reader);
/* Bytes not yet read. */
size_t byte_reader_left(const byte_reader *reader);

#endif
