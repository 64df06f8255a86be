#!/usr/bin/env bash
# Every parameter's gradient of the fine-tuning loss after one forward and
# backward pass (src/train/model_gradient.h) against PyTorch autograd in
# float64 (tests/reference/finetune_gradient_reference.py), one case per
# LAMBDA ROWS pair on the same windows: test_finetune_gradient writes B
# windows of T+1 token ids drawn from SEED, the reference computes the loss
# and its gradients for every case in one PyTorch start-up, and
# test_finetune_gradient compares loupe's with them (relative difference at
# most 1e-4 on the gradients that are not tiny, the loss within 1e-5).
# Skipped (77) only where PyTorch is missing, or where model_gradient refuses
# the model's family as unsupported (every case then says so).
# LOUPE_TEST_KEEP=1 keeps the work folder (the windows, the reference's and
# loupe's gradients: ours.N.safetensors) and prints where it is.
#
# usage: finetune_gradient.sh TEST_PROGRAM MODEL_DIR B T SEED LAMBDA ROWS [LAMBDA ROWS ...]
#   ROWS: the lens rows, "all" or a slice as --lens-rows takes ("1:3")
set -euo pipefail
[ $# -ge 7 ] && [ $((($# - 5) % 2)) -eq 0 ] || { echo "usage: $0 TEST_PROGRAM MODEL_DIR B T SEED LAMBDA ROWS [LAMBDA ROWS ...]" >&2; exit 2; }
program=$1 model=$2 B=$3 T=$4 seed=$5
shift 5
here=$(cd "$(dirname "$0")" && pwd)
python=
for candidate in python3 /usr/bin/python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import torch' 2>/dev/null; then python=$candidate; break; fi
done
[ -n "$python" ] || { echo "PyTorch is not installed: skipped"; exit 77; }
work=$(mktemp -d)
if [ "${LOUPE_TEST_KEEP:-}" = 1 ]; then
  trap 'echo "work folder kept: $work"' EXIT
else
  trap 'rm -rf "$work"' EXIT
fi

"$program" windows "$model" "$B" "$T" "$seed" "$work/windows.safetensors"
cases=()
n=0
while [ $# -ge 2 ]; do
  cases+=(--case "$1" "$2" "$work/reference.$n.safetensors")
  n=$((n + 1))
  shift 2
done
"$python" "$here/../reference/finetune_gradient_reference.py" "$model" "$work/windows.safetensors" "${cases[@]}"

failed=0 skipped=0
for ((k = 0; k < n; k++)); do
  rc=0
  "$program" compare "$model" "$work/windows.safetensors" "$work/reference.$k.safetensors" \
    "$work/ours.$k.safetensors" || rc=$?
  case $rc in
    0) ;;
    77) skipped=$((skipped + 1)) ;;
    *) failed=$((failed + 1)) ;;
  esac
done
if [ "$failed" -gt 0 ]; then
  echo "finetune gradient: $failed of $n cases differ from the reference"
  exit 1
fi
if [ "$skipped" -eq "$n" ]; then
  echo "finetune gradient: the family is not trainable: skipped"
  exit 77
fi
[ "$skipped" -eq 0 ] || { echo "finetune gradient: $skipped of $n cases skipped, the others passed: refused"; exit 1; }
echo "finetune gradient: all $n cases agree with the reference"
