#!/usr/bin/env bash
# The Llama-3.2-3B shape against PyTorch (docs/PERFORMANCE.md, "Llama-3.2-3B
# shape"): `loupe lens --format json` (all rows, all metrics) in the exact
# mode and with --precision bf16, and bench/lens_torch.py (the same forward
# pass and statistics in PyTorch) on bench_llama3b_checkpoint's random BF16
# checkpoint (bench/common.sh, about 6.4 GB, made once), at T = 128 and 512.
# Each round runs every contestant once, interleaved, then `loupe next` (the
# forward pass alone) and OpenBLAS sgemm on the projection's shape
# (T x C times C x V); the medians give the speed-ups, peak RSS,
# and the FLOP rates as fractions of sgemm's. PyTorch gets whichever of
# float32 (the weights converted at load) and the stored bfloat16 is faster
# for it, chosen by one timed run of each at the smallest T.
#
#   bench/lens_llama3b.sh       # RUNS=3 SIZES="128 512" THREADS=$(nproc)
source "$(dirname "$0")/common.sh"
runs=${RUNS:-3}
sizes=${SIZES:-128 512}
threads=${THREADS:-$(nproc)}
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads
torch_python=/usr/bin/python3   # Debian's python3-torch
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bench_build
model=${MODEL:-$(bench_llama3b_checkpoint)}   # MODEL: another Llama folder, for a quick trial
weights=$("$loupe" info --model "$model" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["weight_bytes"])')
read -r L C V A G I < <(python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))
d = c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]
print(c["num_hidden_layers"], c["hidden_size"], c["vocab_size"], c["num_attention_heads"] * d,
      c["num_key_value_heads"] * d, c["intermediate_size"])' "$model/config.json")

# run NAME CMD...: wall seconds and peak RSS (KiB) of one run, appended to
# $work/NAME.wall and $work/NAME.rss; stdout to $work/NAME.out.
run() {
  local name=$1
  shift
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" > "$work/$name.out"
  read -r wall rss < "$work/time"
  echo "$wall" >> "$work/$name.wall"
  echo "$rss" >> "$work/$name.rss"
}

smallest=$(echo "$sizes" | tr ' ' '\n' | sort -n | head -1)
bench_text "$smallest" "$work/text"
"$loupe" tokenize --model "$model" --json --file "$work/text" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["ids"]))' > "$work/ids.json"
# agreement of the two lenses on the checkpoint, and PyTorch's faster type
"$loupe" lens --model "$model" --format json --file "$work/text" > "$work/loupe.json"
best=""
for dtype in float32 stored; do
  "$torch_python" "$root/bench/lens_torch.py" "$model" "$work/ids.json" --threads "$threads" --dtype "$dtype" \
    --dump "$work/torch-$dtype.json" 2>/dev/null > "$work/torch-$dtype.line"
  seconds=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["compute_s"])' "$work/torch-$dtype.line")
  python3 "$root/bench/check_torch_agreement.py" "$work/loupe.json" "$work/torch-$dtype.json" > "$work/agreement" || true
  echo "PyTorch $dtype at T = $smallest: compute $seconds s; against loupe: $(grep 'checks over' "$work/agreement")"
  if [ -z "$best" ] || [ "$(echo "$seconds < $best_s" | bc -l)" = 1 ]; then best=$dtype best_s=$seconds; fi
done
echo "PyTorch runs with --dtype $best (float32: the weights converted at load; stored: bfloat16)"
python3 "$root/bench/check_torch_agreement.py" "$work/loupe.json" "$work/torch-float32.json" > /dev/null ||
  { echo "PyTorch float32 and loupe disagree: nothing timed" >&2; exit 1; }

table=$work/table
for T in $sizes; do
  bench_text "$T" "$work/text"
  "$loupe" tokenize --model "$model" --json --file "$work/text" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["ids"]))' > "$work/ids.json"
  rm -f "$work"/*.wall "$work"/*.rss "$work/sgemm.rates" "$work/torch.compute"
  for round in $(seq "$runs"); do
    run exact "$loupe" lens --model "$model" --format json --file "$work/text"
    run bf16 "$loupe" lens --model "$model" --format json --precision bf16 --file "$work/text"
    run torch "$torch_python" "$root/bench/lens_torch.py" "$model" "$work/ids.json" --threads "$threads" --dtype "$best"
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["compute_s"])' "$work/torch.out" >> "$work/torch.compute"
    run forward "$loupe" next --model "$model" --file "$work/text"
    "$build"/sgemm_rate "$T" "$C" "$V" 3 | sed 's/.*s, \([0-9.]*\) GFLOP.*/\1/' >> "$work/sgemm.rates"
    echo "T=$T round $round: exact $(tail -1 "$work/exact.wall") s, bf16 $(tail -1 "$work/bf16.wall") s, PyTorch $(tail -1 "$work/torch.wall") s (compute $(tail -1 "$work/torch.compute") s), next $(tail -1 "$work/forward.wall") s, sgemm $(tail -1 "$work/sgemm.rates") GFLOP/s, load $(cut -d' ' -f1 /proc/loadavg)"
  done
  tokens=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$work/ids.json")
  # FLOPs as tools/lens_rate counts them
  forward=$(echo "2 * $tokens * $L * ($C * ($A + 2 * $G) + $A * $C + 3 * $C * $I) + 2 * $L * $tokens * $tokens * $A" | bc)
  lens_flop=$(echo "2 * ($L + 1) * $tokens * $C * $V + $forward" | bc)
  exact=$(median < "$work/exact.wall"); bf16=$(median < "$work/bf16.wall"); torch=$(median < "$work/torch.wall")
  torch_compute=$(median < "$work/torch.compute"); next=$(median < "$work/forward.wall"); sgemm=$(median < "$work/sgemm.rates")
  {
    echo "T = $tokens (medians of $runs rounds, $threads threads; PyTorch --dtype $best):"
    printf '  loupe exact %.2f s, --precision bf16 %.2f s, PyTorch %.2f s (compute alone %.2f s)\n' "$exact" "$bf16" "$torch" "$torch_compute"
    printf '  exact vs PyTorch %.2fx (compute alone %.2fx); bf16 vs PyTorch %.2fx (%.2fx); bf16 vs exact %.2fx\n' \
      "$(echo "$torch / $exact" | bc -l)" "$(echo "$torch_compute / $exact" | bc -l)" "$(echo "$torch / $bf16" | bc -l)" \
      "$(echo "$torch_compute / $bf16" | bc -l)" "$(echo "$exact / $bf16" | bc -l)"
    printf '  peak RSS (MiB, medians): exact %d, bf16 %d, PyTorch %d; weights %d MiB\n' \
      "$(( $(median < "$work/exact.rss") / 1024 ))" "$(( $(median < "$work/bf16.rss") / 1024 ))" \
      "$(( $(median < "$work/torch.rss") / 1024 ))" "$(( weights / 1048576 ))"
    printf '  exact: %.0f GFLOP, %.1f GFLOP/s, %.0f %% of sgemm (%.1f GFLOP/s); forward alone (loupe next, %.2f s): %.1f GFLOP/s, %.0f %% of sgemm\n' \
      "$(echo "$lens_flop / 1000000000" | bc -l)" "$(echo "$lens_flop / 1000000000 / $exact" | bc -l)" \
      "$(echo "100 * $lens_flop / 1000000000 / $exact / $sgemm" | bc -l)" "$sgemm" "$next" \
      "$(echo "$forward / 1000000000 / $next" | bc -l)" "$(echo "100 * $forward / 1000000000 / $next / $sgemm" | bc -l)"
  } | tee -a "$table"
done
/usr/bin/time -f "%e" -o "$work/time" "$loupe" info --model "$model" > /dev/null
echo "load (loupe info): $(cat "$work/time") s" | tee -a "$table"
echo; cat "$table"
