#!/usr/bin/env python3
"""Makes a model folder of the tiny test model (gpt2-tiny-gelu: 3 layers, a
64-token context) with a byte-level tokenizer (one token per byte, no merges),
which keeps corpus runs of many windows fast:
    python3 tests/data/byte_model.py OUT_DIR"""
import json
import shutil
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parent
sys.path.insert(0, str(DATA))
from gpt2_bytes import bytes_to_unicode  # noqa: E402

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
for name in ("config.json", "model.safetensors"):
    shutil.copy(DATA / "gpt2-tiny-gelu" / name, out / name)
chars = bytes_to_unicode()
with open(out / "vocab.json", "w", encoding="utf-8") as vocab:
    json.dump({chars[b]: b for b in range(256)}, vocab, ensure_ascii=False)
(out / "merges.txt").write_text("#version: 0.2\n")
