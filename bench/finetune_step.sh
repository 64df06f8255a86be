#!/usr/bin/env bash
# One training step of `loupe finetune` against PyTorch's
# (bench/finetune_step_torch.py: the same model, loss, clipping and AdamW in
# float32 autograd) on the embedded gpt2-demo: batch 8 x 256 tokens, lambda
# 0 (ordinary fine-tuning) and 1 (every lens row), the same threads.
#
# Each round runs, for each lambda, loupe then PyTorch as fresh processes
# (interleaved, so a change of the machine's speed hits both). loupe trains
# 1 + STEPS steps on the training corpus and its step seconds come from the
# progress line (the first step, which warms the caches, left out); PyTorch
# times STEPS steps after its own warm-up step. A round's time is the median
# of its steps; the table gives the median over the rounds, the ratio
# PyTorch / loupe, and each process's peak resident memory (GNU time).
#
#   bench/finetune_step.sh   # ROUNDS=3 STEPS=3 THREADS=2 LAMBDAS="0 1"
source "$(dirname "$0")/common.sh"
rounds=${ROUNDS:-3}
steps=${STEPS:-3}
threads=${THREADS:-2}
lambdas=${LAMBDAS:-0 1}
export OMP_NUM_THREADS=$threads
bench_build_targets loupe sgemm_rate
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# 3 MB of the training text: more than the steps read
xz -dc "$train_corpus" | head -c 3000000 > "$work/train.txt" || true
echo "load average $(cut -d' ' -f1-3 /proc/loadavg)"

median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

declare -A loupe_times torch_times loupe_rss torch_rss
for round in $(seq "$rounds"); do
  for lambda in $lambdas; do
    /usr/bin/time -f '%M' -o "$work/rss" "$loupe" finetune --out "$work/out" --lens-weight "$lambda" \
      --steps $((steps + 1)) --batch-tokens 2048 --context 256 --progress always "$work/train.txt" 2> "$work/log"
    t=$(sed -n 's/^step \([0-9]*\)\/.*  \([0-9.]*\) s  [0-9]* tok\/s$/\1 \2/p' "$work/log" | awk '$1 > 1 {print $2}' |
        tr '\n' ' ' | median)
    loupe_times[$lambda]+="$t "
    loupe_rss[$lambda]=$(cat "$work/rss")
    /usr/bin/time -f '%M' -o "$work/rss" /usr/bin/python3 "$root/bench/finetune_step_torch.py" --lens-weight "$lambda" \
      --steps "$steps" --threads "$threads" > "$work/torch.log"
    p=$(sed -n 's/.*median \([0-9.]*\) s per step wall.*/\1/p' "$work/torch.log")
    torch_times[$lambda]+="$p "
    torch_rss[$lambda]=$(cat "$work/rss")
    echo "round $round lambda $lambda: loupe $t s, pytorch $p s per step"
  done
done

echo
echo "| lambda | loupe s/step | PyTorch s/step | PyTorch / loupe | loupe peak RSS | PyTorch peak RSS |"
echo "|---|---|---|---|---|---|"
for lambda in $lambdas; do
  l=$(echo "${loupe_times[$lambda]}" | median)
  p=$(echo "${torch_times[$lambda]}" | median)
  awk -v lambda="$lambda" -v l="$l" -v p="$p" -v lr="${loupe_rss[$lambda]}" -v pr="${torch_rss[$lambda]}" \
    'BEGIN {printf "| %s | %.3f | %.3f | %.2fx | %.0f MiB | %.0f MiB |\n", lambda, l, p, p / l, lr / 1024, pr / 1024}'
done
echo "(medians of $rounds interleaved rounds of $steps steps each; $threads threads; rounds: loupe ${loupe_times[*]}; pytorch ${torch_times[*]})"
