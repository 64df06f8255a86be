#!/usr/bin/env bash
# make_random_checkpoint writes checkpoints loupe loads in all three dtypes,
# with the sizes and parameter count GPT-2's shapes imply; a BF16 one runs
# exactly as the independent plain-Python GPT-2 does.
set -euo pipefail
loupe=$1
here=$(cd "$(dirname "$0")" && pwd)
maker=$(dirname "$loupe")/make_random_checkpoint
models=${LOUPE_MODELS:-$here/../../models}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

L=2 C=64 H=4 V=50257 P=32
for dtype in F32 F16 BF16; do
  "$maker" "$work/$dtype" --dtype $dtype --layers $L --width $C --heads $H --vocab $V --context $P --seed 7 >/dev/null
  cp "$models/gpt2-demo/vocab.json" "$models/gpt2-demo/merges.txt" "$work/$dtype/"
  "$loupe" info --json --model "$work/$dtype" | python3 -c '
import json, sys
info = json.load(sys.stdin)
dtype, L, C, H, V, P = sys.argv[1], *map(int, sys.argv[2:])
per_block = 2 * C + (C * 3 * C + 3 * C) + (C * C + C) + 2 * C + (C * 4 * C + 4 * C) + (4 * C * C + C)
expected = V * C + P * C + L * per_block + 2 * C   # the tied head is counted once
size = {"F32": 4, "F16": 2, "BF16": 2}[dtype]
assert info["dtype"] == dtype, info
assert (info["n_layer"], info["n_embd"], info["n_head"], info["n_vocab"], info["n_ctx"]) == (L, C, H, V, P), info
assert info["n_parameters"] == expected, (info["n_parameters"], expected)
assert info["weight_bytes"] == expected * size, info
assert info["tied_unembedding"] is True
' $dtype $L $C $H $V $P
done

ids=$("$loupe" tokenize --json --model "$work/BF16" "Random weights predict noise" | python3 -c 'import json,sys; print(" ".join(map(str, json.load(sys.stdin)["ids"])))')
"$loupe" next --json --topk 5 --model "$work/BF16" "Random weights predict noise" | python3 -c '
import json, subprocess, sys
ours = json.load(sys.stdin)
ref = json.loads(subprocess.check_output([sys.executable, sys.argv[1], sys.argv[2]] + sys.argv[3].split() + ["--topk", "5"]))
for got, (rid, rprob) in zip(ours["next"], ref["top"]):
    assert got["id"] == rid and abs(got["prob"] - rprob) < 1e-7, (got, rid, rprob)
' "$here/../reference/gpt2_reference.py" "$work/BF16" "$ids"
echo "random checkpoints: ok"
