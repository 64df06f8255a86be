#!/usr/bin/env bash
# The rotary decoder's training gradient (src/train/model_gradient.h, model_gradient_decoder.c)
# against PyTorch autograd in float64 (tests/reference/decoder_gradient_reference.py):
# every parameter's gradient and the loss after one forward/backward of two
# windows of 16 positions, lambda 0 and 1, on llama-tiny (untied head), on a
# subset of lens rows, and on random checkpoints of make_random_checkpoint:
# Llama (llama3 rope scaling, tied head), Mistral (a sliding window of 4,
# linear rope scaling) and Qwen2 (q/k/v biases, tied head). Then the families
# it cannot train are refused by name. Skipped (77) only where PyTorch is missing.
# usage: decoder_gradient.sh CHECK_MODEL_GRADIENT MAKE_RANDOM_CHECKPOINT
set -euo pipefail
check=$1
make_checkpoint=$2
here=$(cd "$(dirname "$0")" && pwd)
data=${LOUPE_TEST_DATA:-$here/../data}
python=
for candidate in /usr/bin/python3 python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import torch' 2>/dev/null; then python=$candidate; break; fi
done
[ -n "$python" ] || { echo "PyTorch is not installed: skipped"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
reference="$here/../reference/decoder_gradient_reference.py"

for family in llama mistral qwen2; do
  tied=
  [ "$family" = llama ] && tied=--tied
  "$make_checkpoint" "$work/$family" --arch "$family" --layers 2 --width 32 --heads 4 --kv-heads 2 --head-dim 8 \
    --inner 48 --vocab 300 --context 64 --std 0.2 --seed 5 $tied >/dev/null
done
# MODEL_DIR LAMBDA ROWS per comparison
jobs=("$data/llama-tiny 0 -" "$data/llama-tiny 1 -" "$data/llama-tiny 0.5 1"
      "$work/llama 0 -" "$work/llama 1 -" "$work/mistral 0 -" "$work/mistral 1 -" "$work/qwen2 0 -" "$work/qwen2 1 -")
specs=()
for n in "${!jobs[@]}"; do
  read -r dir lambda rows <<<"${jobs[$n]}"
  [ "$rows" = - ] && rows=
  specs+=("$dir:$work/reference$n.safetensors:$lambda:$rows")
done
OMP_NUM_THREADS=1 "$python" "$reference" 2 16 7 "${specs[@]}" >/dev/null
for n in "${!jobs[@]}"; do
  read -r dir lambda rows <<<"${jobs[$n]}"
  [ "$rows" = - ] && rows=
  "$check" "$dir" "$work/reference$n.safetensors" "$lambda" "$rows"
done

for family in qwen3 gemma gpt_neox; do
  "$make_checkpoint" "$work/$family" --arch "$family" --layers 1 --width 32 --heads 4 --head-dim 8 --inner 48 \
    --vocab 300 --context 64 --seed 5 >/dev/null
  if "$check" "$work/$family" "$work/reference0.safetensors" 0 2>"$work/refusal.txt"; then
    echo "decoder_gradient: $family was not refused"; exit 1
  fi
  grep -q "cannot train a model of type '$family': it needs .* (trainable types: gpt2, llama, mistral, qwen2)" \
    "$work/refusal.txt" || { cat "$work/refusal.txt"; exit 1; }
  sed 's/^/refused: /' "$work/refusal.txt"
done
echo "decoder_gradient: every gradient agrees with PyTorch"
