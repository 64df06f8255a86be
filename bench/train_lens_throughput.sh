#!/usr/bin/env bash
# Training throughput of `loupe train-lens` against PyTorch's step of
# tuned-lens training (bench/tuned_lens_torch.py) at equal settings: the
# same positions per step, steps, thread count and OpenBLAS kernels, on the
# embedded gpt2-demo (docs/TUNED_LENS.md, docs/PERFORMANCE.md).
#
#   bench/train_lens_throughput.sh   # ROUNDS=5 THREADS=1 TOKENS=256 STEPS=3
#
# Each round runs both once, in alternating order, so both see the same
# load; the load average is printed per round. Rates are positions per
# CPU-second (user + system), since the machine may be shared: loupe's
# counts its whole process (loading the model, tokenizing, the model's
# forward pass, the loss and the optimizer), PyTorch's only its timed
# steps on precomputed hidden states, so the comparison favours PyTorch.
# Prints the medians, their ratio, the median of the per-round ratios and
# each side's median peak resident memory.
source "$(dirname "$0")/common.sh"
rounds=${ROUNDS:-5}
threads=${THREADS:-1}
tokens=${TOKENS:-256}
steps=${STEPS:-3}
torch_python=/usr/bin/python3 # Debian's Python, where python3-torch lives
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-SkylakeX}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

bench_build_targets loupe
"$torch_python" -c 'import torch' || { echo "PyTorch missing: run bench/install-deps.sh" >&2; exit 1; }
head -c 60000 "$corpus" > "$work/text.txt"

# run_loupe: one training run; appends "positions/CPU-s peak-KiB" to loupe.txt
run_loupe() {
  /usr/bin/time -f "%U %S %M" -o "$work/time" "$loupe" train-lens --out "$work/lens" --steps "$steps" \
    --tokens-per-step "$tokens" --progress never --separator '<|endoftext|>' "$work/text.txt" >/dev/null
  awk -v p=$((steps * tokens)) '{printf "%.1f %d\n", p / ($1 + $2), $3}' "$work/time" >> "$work/loupe.txt"
}

# run_torch: the PyTorch step; appends "positions/CPU-s peak-KiB" to torch.txt
run_torch() {
  /usr/bin/time -f "%M" -o "$work/time" "$torch_python" "$root/bench/tuned_lens_torch.py" "$tokens" "$steps" \
    "$threads" > "$work/torch.out"
  local rate
  rate=$(sed -n 's/.*: \([0-9.]*\) positions per CPU-second.*/\1/p' "$work/torch.out")
  echo "$rate $(cat "$work/time")" >> "$work/torch.txt"
}

echo "train-lens throughput: $rounds rounds, $steps steps of $tokens positions, $threads thread(s)"
for round in $(seq "$rounds"); do
  load=$(cut -d' ' -f1 /proc/loadavg)
  if [ $((round % 2)) -eq 1 ]; then run_loupe; run_torch; else run_torch; run_loupe; fi
  printf 'round %d (load average %s): loupe %s, PyTorch %s positions/CPU-s\n' "$round" "$load" \
    "$(tail -1 "$work/loupe.txt" | cut -d' ' -f1)" "$(tail -1 "$work/torch.txt" | cut -d' ' -f1)"
done
loupe_rate=$(cut -d' ' -f1 "$work/loupe.txt" | median)
torch_rate=$(cut -d' ' -f1 "$work/torch.txt" | median)
round_ratio=$(paste -d' ' "$work/loupe.txt" "$work/torch.txt" | awk '{print $1 / $3}' | median)
printf 'median: loupe %s, PyTorch %s positions/CPU-s: %.2fx (median of the per-round ratios %.2fx)\n' \
  "$loupe_rate" "$torch_rate" "$(awk -v a="$loupe_rate" -v b="$torch_rate" 'BEGIN {print a / b}')" "$round_ratio"
printf 'peak memory (median): loupe %s MB, PyTorch %s MB\n' \
  "$(cut -d' ' -f2 "$work/loupe.txt" | median | awk '{printf "%.0f", $1 / 1024}')" \
  "$(cut -d' ' -f2 "$work/torch.txt" | median | awk '{printf "%.0f", $1 / 1024}')"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
