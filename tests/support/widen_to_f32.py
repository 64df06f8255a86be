#!/usr/bin/env python3
"""widen_to_f32.py IN_DIR OUT_DIR: a copy of a model folder whose
model.safetensors holds every BF16 and F16 tensor as F32 with the same
values (BF16: the 16 bits shifted up; F16: Python's own binary16 decoding),
written from the safetensors layout alone, independently of loupe. The other
files (config.json, tokenizer) are copied as they are."""
import json
import os
import shutil
import struct
import sys


def widen(dtype, raw):
    if dtype == "BF16":
        halves = struct.unpack("<%dH" % (len(raw) // 2), raw)
        return struct.pack("<%dI" % len(halves), *(h << 16 for h in halves))
    if dtype == "F16":
        values = struct.unpack("<%de" % (len(raw) // 2), raw)
        return struct.pack("<%df" % len(values), *values)
    return raw


def main(source, target):
    os.makedirs(target, exist_ok=True)
    for name in os.listdir(source):
        if name != "model.safetensors":
            shutil.copy(os.path.join(source, name), target)
    with open(os.path.join(source, "model.safetensors"), "rb") as f:
        blob = f.read()
    (header_length,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + header_length])
    data = blob[8 + header_length :]
    metadata = header.pop("__metadata__", None)
    names = sorted(header, key=lambda n: header[n]["data_offsets"][0])
    out_header, chunks, offset = {}, [], 0
    for name in names:
        entry = header[name]
        begin, end = entry["data_offsets"]
        raw = widen(entry["dtype"], data[begin:end])
        dtype = "F32" if entry["dtype"] in ("BF16", "F16") else entry["dtype"]
        out_header[name] = {"dtype": dtype, "shape": entry["shape"], "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    if metadata is not None:
        out_header["__metadata__"] = metadata
    text = json.dumps(out_header).encode()
    text += b" " * (-len(text) % 8)
    with open(os.path.join(target, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for chunk in chunks:
            f.write(chunk)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
