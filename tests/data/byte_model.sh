#!/usr/bin/env bash
# Makes OUT (a new folder) the tiny GPT-2 test model (gpt2-tiny-gelu) with
# a byte-level tokenizer: one token per byte, no merges, so any text
# tokenizes within its 1000-token vocabulary and each byte is a position.
# usage: byte_model.sh DATA_DIR OUT
set -euo pipefail
data=${1:?usage: byte_model.sh DATA_DIR OUT} out=${2:?usage: byte_model.sh DATA_DIR OUT}
mkdir "$out"
cp "$data/gpt2-tiny-gelu/config.json" "$data/gpt2-tiny-gelu/model.safetensors" "$out/"
python3 - "$out/vocab.json" "$data" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[2])
from gpt2_bytes import bytes_to_unicode
chars = bytes_to_unicode()
json.dump({chars[b]: b for b in range(256)}, open(sys.argv[1], "w", encoding="utf-8"), ensure_ascii=False)
PY
printf '#version: 0.2\n' >"$out/merges.txt"
