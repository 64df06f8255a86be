"""The 64-bit FNV-1a hash (loupe's string_hash) of a GPT-2 checkpoint's final norm and unembedding,
as loupe train-lens stores it in a lens's params.safetensors (__metadata__
"loupe.unembedding", docs/TUNED_LENS.md): the bytes of transformer.ln_f.weight,
transformer.ln_f.bias and lm_head.weight (transformer.wte.weight when tied),
float32 little-endian, read straight from the file (F32 checkpoints only).

usage: python3 unembedding_hash.py MODEL.safetensors  -> 16 hex digits
       python3 unembedding_hash.py --stored PARAMS.safetensors  -> the stored value
"""
import json
import struct
import sys


def header_and_data(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def tensor_bytes(header, data, name):
    entry = header[name]
    assert entry["dtype"] == "F32", f"{name} is {entry['dtype']}, not F32"
    begin, end = entry["data_offsets"]
    return data[begin:end]


def fnv1a(chunks):
    # 64-bit FNV-1a: the offset basis 14695981039346656037 and the prime 1099511628211
    h = 14695981039346656037
    for chunk in chunks:
        for byte in chunk:
            h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


if sys.argv[1] == "--stored":
    header, _ = header_and_data(sys.argv[2])
    print(header.get("__metadata__", {}).get("loupe.unembedding", ""))
else:
    header, data = header_and_data(sys.argv[1])
    head = "lm_head.weight" if "lm_head.weight" in header else "transformer.wte.weight"
    names = ["transformer.ln_f.weight", "transformer.ln_f.bias", head]
    print(fnv1a(tensor_bytes(header, data, name) for name in names))
