#!/usr/bin/env bash
# The lens on Llama-shaped random checkpoints (docs/PERFORMANCE.md, "Llama
# shapes"): vocabularies of 32000 (Llama 2, Mistral) and 128256 (Llama 3),
# 12 layers of width 768 with 12 query and 4 key/value heads and a SwiGLU of
# 2048, untied head; GPT-2 small's shape for comparison. Each round times the
# whole lens (tools/lens_rate: forward pass, every row's projection and
# statistics) and OpenBLAS sgemm on the projection's shape (T x C times
# C x V, tools/sgemm_rate), interleaved so both see the same load, and
# reports the lens's FLOP rate as a fraction of sgemm's.
#
#   bench/lens_llama.sh         # RUNS=3 THREADS=$(nproc) SIZES="128 512"
source "$(dirname "$0")/common.sh"
runs=${RUNS:-3}
threads=${THREADS:-$(nproc)}
sizes=${SIZES:-128 512}
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads
out=$root/bench/out
mkdir -p "$out"
bench_build

# llama_checkpoint V: a Llama-shaped checkpoint of vocabulary V, made once.
llama_checkpoint() {
  local dir=$models_dir/llama-shaped-random-$1
  if [ ! -f "$dir/model.safetensors" ]; then
    mkdir -p "$models_dir"
    "$build"/make_random_checkpoint "$dir" --arch llama --layers 12 --width 768 --heads 12 --kv-heads 4 \
      --inner 2048 --vocab "$1" --context 1024 >&2
  fi
  echo "$dir"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

table=$out/lens_llama.md
{
  echo "| model | V | T | lens (s) | lens GFLOP | lens GFLOP/s | sgemm GFLOP/s | fraction of sgemm |"
  echo "|---|---|---|---|---|---|---|---|"
} > "$table"
for model in "$(bench_checkpoint F32)" "$(llama_checkpoint 32000)" "$(llama_checkpoint 128256)"; do
  V=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["vocab_size"])' "$model/config.json")
  for T in $sizes; do
    : > "$out/lens.times"; : > "$out/sgemm.rates"
    for round in $(seq "$runs"); do
      line=$("$build"/lens_rate "$model" "$T" 1)
      echo "$line" | sed 's/.*T [0-9]*, \([0-9.]*\) s.*/\1/' >> "$out/lens.times"
      gflop=$(echo "$line" | sed 's/.* \([0-9.]*\) GFLOP,.*/\1/')
      "$build"/sgemm_rate "$T" 768 "$V" 3 | sed 's/.*s, \([0-9.]*\) GFLOP.*/\1/' >> "$out/sgemm.rates"
      echo "$(basename "$model") T=$T round $round: lens $(tail -1 "$out/lens.times") s, sgemm $(tail -1 "$out/sgemm.rates") GFLOP/s, load $(cut -d' ' -f1 /proc/loadavg)"
    done
    lens_s=$(median < "$out/lens.times"); sgemm=$(median < "$out/sgemm.rates")
    printf "| %s | %d | %d | %.2f | %.0f | %.1f | %.1f | %.0f %% |\n" "$(basename "$model")" "$V" "$T" "$lens_s" "$gflop" \
      "$(echo "$gflop / $lens_s" | bc -l)" "$sgemm" "$(echo "100 * $gflop / $lens_s / $sgemm" | bc -l)" >> "$table"
  done
done
rm -f "$out/lens.times" "$out/sgemm.rates"
cat "$table"
