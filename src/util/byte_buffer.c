/*
 * byte_buffer.c - see byte_buffer.h.
 */
#include "util/byte_buffer.h"

#include <stdlib.h>
#include <string.h>

void byte_writer_init(byte_writer *writer) { *writer = (byte_writer){0}; }

void byte_writer_free(byte_writer *writer) {
    free(writer->data);
    byte_writer_init(writer);
}

void byte_writer_bytes(byte_writer *writer, const void *bytes, size_t length) {
    if (writer->failed || length == 0) return;
    if (length > SIZE_MAX / 2 - writer->size) {
        writer->failed = true;
        return;
    }
    if (writer->size + length > writer->capacity) {
        size_t capacity = writer->capacity ? writer->capacity : 4096;
        while (capacity < writer->size + length) capacity *= 2;
        uint8_t *grown = realloc(writer->data, capacity);
        if (grown == NULL) {
            writer->failed = true;
            return;
        }
        writer->data = grown;
        writer->capacity = capacity;
    }
    memcpy(writer->data + writer->size, bytes, length);
    writer->size += length;
}

/* value's low `width` bytes, least significant first. */
static void write_little(byte_writer *writer, uint64_t value, int width) {
    uint8_t bytes[8];
    for (int i = 0; i < width; i++) bytes[i] = (uint8_t)(value >> (8 * i));
    byte_writer_bytes(writer, bytes, (size_t)width);
}

void byte_writer_u8(byte_writer *writer, uint8_t value) { write_little(writer, value, 1); }
void byte_writer_u32(byte_writer *writer, uint32_t value) { write_little(writer, value, 4); }
void byte_writer_u64(byte_writer *writer, uint64_t value) { write_little(writer, value, 8); }
void byte_writer_i32(byte_writer *writer, int32_t value) { write_little(writer, (uint32_t)value, 4); }
void byte_writer_i64(byte_writer *writer, int64_t value) { write_little(writer, (uint64_t)value, 8); }

void byte_writer_f32(byte_writer *writer, float value) {
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    write_little(writer, bits, 4);
}

void byte_writer_f64(byte_writer *writer, double value) {
    uint64_t bits;
    memcpy(&bits, &value, sizeof bits);
    write_little(writer, bits, 8);
}

void byte_reader_init(byte_reader *reader, const void *data, size_t size) {
    *reader = (byte_reader){.data = data, .size = size};
}

const uint8_t *byte_reader_bytes(byte_reader *reader, size_t length) {
    if (reader->failed || length > reader->size - reader->offset) {
        reader->failed = true;
        return NULL;
    }
    const uint8_t *bytes = reader->data + reader->offset;
    reader->offset += length;
    return bytes;
}

/* The next `width` bytes as a little-endian number; 0 past the end. */
static uint64_t read_little(byte_reader *reader, int width) {
    const uint8_t *bytes = byte_reader_bytes(reader, (size_t)width);
    uint64_t value = 0;
    if (bytes != NULL)
        for (int i = 0; i < width; i++) value |= (uint64_t)bytes[i] << (8 * i);
    return value;
}

uint8_t byte_reader_u8(byte_reader *reader) { return (uint8_t)read_little(reader, 1); }
uint32_t byte_reader_u32(byte_reader *reader) { return (uint32_t)read_little(reader, 4); }
uint64_t byte_reader_u64(byte_reader *reader) { return read_little(reader, 8); }
int32_t byte_reader_i32(byte_reader *reader) { return (int32_t)(uint32_t)read_little(reader, 4); }
int64_t byte_reader_i64(byte_reader *reader) { return (int64_t)read_little(reader, 8); }

float byte_reader_f32(byte_reader *reader) {
    uint32_t bits = (uint32_t)read_little(reader, 4);
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

double byte_reader_f64(byte_reader *reader) {
    uint64_t bits = read_little(reader, 8);
    double value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

size_t byte_reader_left(const byte_reader *reader) { return reader->size - reader->offset; }
