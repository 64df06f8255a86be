#!/usr/bin/env bash
# BF16 and F16 checkpoints are used in place, their matrices converted panel
# by panel as the products use them: the lens JSON (every metric, sub-block
# rows), next and generate give the same bytes as on a copy of the same
# values stored as F32 (written by tests/support/widen_to_f32.py, not by
# loupe), for GPT-2 (Conv1D weights, tied head), Llama (untied head, grouped
# queries) and GPT-NeoX (fused qkv), at one and at two threads.
set -euo pipefail
loupe=$1
here=$(cd "$(dirname "$0")" && pwd)
maker=$(dirname "$loupe")/make_random_checkpoint
models=${LOUPE_MODELS:-$here/../../models}
python=python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ids=5,17,300,1999,42,7,1234,88,640,3,1500,21 # a small vocabulary keeps the widened copies quick

compare() { # NAME: the half-precision folder against its widened copy
  local half=$work/$1/half wide=$work/$1/wide
  "$python" "$here/../support/widen_to_f32.py" "$half" "$wide"
  "$loupe" info --json --model "$wide" | grep -q '"dtype": "F32"'
  for threads in 1 2; do
    for dir in "$half" "$wide"; do
      # the model line names the folder; everything after it must agree
      OMP_NUM_THREADS=$threads "$loupe" lens --format json --subblocks --topk 8 --model "$dir" --ids "$ids" |
        tail -n +3 >"$dir.lens"
      OMP_NUM_THREADS=$threads "$loupe" next --json --topk 20 --model "$dir" --ids "$ids" >"$dir.next"
      OMP_NUM_THREADS=$threads "$loupe" generate --tokens 6 --model "$dir" --ids "$ids" >"$dir.generate"
    done
    for output in lens next generate; do
      cmp "$half.$output" "$wide.$output" || { echo "$1: $output differs at $threads threads"; exit 1; }
    done
  done
  echo "$1: same bytes as F32"
}

make_model() { # NAME DTYPE ARGS...
  local name=$1 dtype=$2
  shift 2
  mkdir -p "$work/$name"
  "$maker" "$work/$name/half" --dtype "$dtype" --layers 2 --vocab 2000 --context 64 --seed 5 "$@" >/dev/null
  cp "$models/gpt2-demo/vocab.json" "$models/gpt2-demo/merges.txt" "$work/$name/half/"
}

make_model gpt2-bf16 BF16 --width 64 --heads 4
make_model llama-bf16 BF16 --arch llama --width 64 --heads 4 --kv-heads 2 --inner 96 --std 0.2
make_model gpt_neox-f16 F16 --arch gpt_neox --width 64 --heads 4 --inner 96 --std 0.2
for name in gpt2-bf16 llama-bf16 gpt_neox-f16; do compare "$name"; done
