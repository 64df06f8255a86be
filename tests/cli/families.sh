#!/usr/bin/env bash
# Every rotary family (llama, mistral, qwen2, qwen3, gemma, gpt_neox; GPT-NeoX
# also with the sequential residual) on a small random checkpoint from
# make_random_checkpoint --arch, against the independent PyTorch reference
# tests/reference/hf_families_reference.py: every hidden state, attention
# tap, lens row and the logits within 1e-4 (check_reference); then info,
# next, lens and corpus run on the folder (GPT-2's tokenizer copied in: the
# checkpoints use its vocabulary size), and next's top probability is the
# reference's. Skipped (77) only where PyTorch is missing.
set -euo pipefail
loupe=$1
here=$(cd "$(dirname "$0")" && pwd)
build=$(dirname "$loupe")
models=${LOUPE_MODELS:-$here/../../models}
data=${LOUPE_TEST_DATA:-$here/../data}
python=
for candidate in python3 /usr/bin/python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import torch' 2>/dev/null; then python=$candidate; break; fi
done
[ -n "$python" ] || { echo "PyTorch is not installed: skipped"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
text="The quick brown fox jumps over the lazy dog, and then it runs away."

run_family() { # NAME DIR
  local name=$1 dir=$2
  ids=$("$loupe" tokenize --json --model "$dir" "$text" | "$python" -c 'import json,sys; print(",".join(map(str, json.load(sys.stdin)["ids"])))')
  "$python" "$here/../reference/hf_families_reference.py" "$dir" "$ids"
  "$build/tests/check_reference" "$dir" 1e-4 | head -1
  "$loupe" info --json --model "$dir" | "$python" -c '
import json, sys
info = json.load(sys.stdin)
assert info["model_type"] == sys.argv[1] and info["n_layer"] == 2, info' "${name%-*}"
  "$loupe" next --json --topk 3 --model "$dir" "$text" | "$python" -c '
import json, sys
sys.path.insert(0, sys.argv[2])
import torch, hf_families_reference as reference
ours = json.load(sys.stdin)["next"][0]
lens = reference.read_safetensors(sys.argv[1] + "/reference.safetensors")["lens_logits"]
probs = torch.softmax(lens[-1, -1].double(), dim=-1)
assert ours["id"] == int(probs.argmax()), (ours, int(probs.argmax()))
assert abs(ours["prob"] - float(probs.max())) < 1e-5, (ours, float(probs.max()))' "$dir" "$here/../reference"
  "$loupe" lens --format json --subblocks --model "$dir" "$text" | "$python" -c '
import json, sys
lens = json.load(sys.stdin)
assert lens["layers"] == ["input", "h1.attn", "h1", "h2.attn", "h2"], lens["layers"]'
  "$loupe" corpus --model "$dir" "$data/corpus_small.txt" >"$work/corpus.txt"
  grep -q "h2" "$work/corpus.txt"
}

for family in llama mistral qwen2 qwen3 gemma gpt_neox; do
  dtype=F32
  [ "$family" = gemma ] && dtype=BF16 # its sqrt(C) is rounded to bfloat16
  "$build/make_random_checkpoint" "$work/$family" --arch "$family" --dtype $dtype --layers 2 --width 32 \
    --heads 4 --head-dim 16 --inner 48 --vocab 50257 --context 64 --std 0.2 --seed 3 >/dev/null
  cp "$models/gpt2-demo/vocab.json" "$models/gpt2-demo/merges.txt" "$work/$family/"
  run_family "$family" "$work/$family"
done
cp -r "$work/gpt_neox" "$work/gpt_neox-sequential"
sed -i 's/"use_parallel_residual": true/"use_parallel_residual": false/' "$work/gpt_neox-sequential/config.json"
run_family gpt_neox-sequential "$work/gpt_neox-sequential"
echo "families: all agree with the reference"
