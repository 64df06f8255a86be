#!/usr/bin/env python3
"""Writes a changed copy of a safetensors file, for the error catalogue's
broken fine-tuning checkpoints (standard library only):
    safetensors_edit.py IN OUT drop NAME            removes tensor NAME
    safetensors_edit.py IN OUT reshape NAME A,B,..  gives NAME another shape of as many elements
    safetensors_edit.py IN OUT add NAME             adds an F32 tensor NAME of shape [1]
    safetensors_edit.py IN OUT metadata KEY VALUE   sets __metadata__ KEY to the string VALUE
The data of the tensors kept is copied unchanged, offsets renumbered."""
import json
import struct
import sys


def main():
    source, target, action, name = sys.argv[1:5]
    raw = open(source, "rb").read()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + length])
    data = raw[8 + length:]
    metadata = header.pop("__metadata__", {})
    tensors = [(key, info, data[info["data_offsets"][0]:info["data_offsets"][1]]) for key, info in header.items()]
    if action == "drop":
        tensors = [t for t in tensors if t[0] != name]
    elif action == "reshape":
        for key, info, _ in tensors:
            if key == name:
                info["shape"] = [int(x) for x in sys.argv[5].split(",")]
    elif action == "add":
        tensors.append((name, {"dtype": "F32", "shape": [1]}, struct.pack("<f", 1.0)))
    elif action == "metadata":
        metadata[name] = sys.argv[5]
    out, blob = {"__metadata__": metadata}, b""
    for key, info, payload in tensors:
        info["data_offsets"] = [len(blob), len(blob) + len(payload)]
        out[key] = info
        blob += payload
    text = json.dumps(out).encode()
    text += b" " * (-len(text) % 8)
    open(target, "wb").write(struct.pack("<Q", len(text)) + text + blob)


if __name__ == "__main__":
    main()
