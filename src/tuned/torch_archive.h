/*
 * torch_archive.h - the state dict of a PyTorch archive (what torch.save
 * writes since PyTorch 1.6): a zip file holding PREFIX/data.pkl, a pickle
 * read by the restricted unpickler of torch_pickle.h, and one record
 * PREFIX/data/KEY per storage. The zip is read with libzip; every tensor
 * is checked against its storage (dtype size, element count, offset,
 * contiguous strides) before a view of it is handed out.
 *
 * Limits: the pickle at most TORCH_PICKLE_MAX_BYTES, a record at most
 * TORCH_ARCHIVE_MAX_RECORD bytes once inflated (and at most 1032 times its
 * compressed size, deflate's bound), only little-endian archives.
 */
#ifndef LOUPE_TUNED_TORCH_ARCHIVE_H
#define LOUPE_TUNED_TORCH_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "io/safetensors.h"
#include "loupe.h"

#define TORCH_ARCHIVE_MAX_RECORD (INT64_C(1) << 34)

typedef struct torch_archive {
    tensor_view *tensors; /* (n_tensors) the state dict in its order; names and data owned here */
    size_t n_tensors;
    uint8_t **storages;   /* (n_storages) the storage records read */
    size_t n_storages;
} torch_archive;

/* Reads an archive held in memory, bytes (size), which need not outlive
 * the result. `name` starts every message. On failure *archive is empty
 * (closing it is still fine). */
loupe_status torch_archive_parse(const uint8_t *bytes, size_t size, const char *name, torch_archive *archive,
                                 loupe_error *error);

/* Maps the file at path and parses it; messages name the path. */
loupe_status torch_archive_open(const char *path, torch_archive *archive, loupe_error *error);

/* Frees everything; an emptied or closed archive is fine. */
void torch_archive_close(torch_archive *archive);

#endif
