#!/usr/bin/env bash
# The whole lens benchmark suite (docs/PERFORMANCE.md): loupe against a
# PyTorch baseline, the FLOP rate against OpenBLAS sgemm, F16/BF16 against
# F32, peak memory, load time, tokenizer throughput, and 1- vs 2-thread
# agreement. Writes a Markdown table to bench/out/results.md and prints it.
#
#   bench/install-deps.sh       # once, as root: Debian's python3-torch
#   bench/run_all.sh            # RUNS=5 THREADS=$(nproc) SIZES="128 512 1024" EXTRAS=1
#
# EXTRAS=0 keeps only the loupe / PyTorch / sgemm table.
#
# Every timing is a median of RUNS runs; loupe, PyTorch and sgemm runs are
# interleaved (one of each per round) so that all three see the same load.
source "$(dirname "$0")/common.sh"
runs=${RUNS:-5}
threads=${THREADS:-$(nproc)}
sizes=${SIZES:-128 512 1024}
torch_python=/usr/bin/python3   # Debian's Python, where python3-torch lives
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads
out=$root/bench/out
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

bench_build
"$torch_python" -c 'import torch' || { echo "PyTorch missing: run bench/install-deps.sh" >&2; exit 1; }
f32=$(bench_checkpoint F32)
f16=$(bench_checkpoint F16)
bf16=$(bench_checkpoint BF16)

# seconds CMD...: the wall time of a command, output discarded.
seconds() {
  local start end
  start=$(date +%s.%N)
  "$@" > /dev/null
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}

lens() { "$loupe" lens --model "$1" --format json --file "$2"; }
ids_of() { "$loupe" tokenize --model "$f32" --json --file "$1" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["ids"]))'; }
config() { python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); print(c[sys.argv[2]])' "$f32/config.json" "$1"; }
L=$(config n_layer); C=$(config n_embd); V=$(config vocab_size); I=$((4 * C))

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$out/log.txt"

# 1. Agreement with PyTorch before timing.
bench_text 128 "$work/text128"
ids_of "$work/text128" > "$work/ids128"
lens "$f32" "$work/text128" > "$work/loupe128.json"
"$torch_python" "$root/bench/lens_torch.py" "$f32" "$work/ids128" --threads "$threads" --dump "$work/torch128.json" 2>/dev/null > /dev/null
agreement=$(python3 "$root/bench/check_torch_agreement.py" "$work/loupe128.json" "$work/torch128.json" | tail -2 | tr '\n' ' ')
echo "agreement (T = 128): $agreement" | tee -a "$out/log.txt"

# 2-3. loupe vs PyTorch, and the FLOP rate vs sgemm, per text length.
table=$out/results.md
{
  echo "| T | loupe lens (s) | PyTorch total (s) | PyTorch compute only (s) | speed-up (total) | speed-up (compute only) | lens GFLOP | lens GFLOP/s | sgemm GFLOP/s | fraction of sgemm |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
} > "$table.lens"
for T in $sizes; do
  bench_text "$T" "$work/text$T"
  ids_of "$work/text$T" > "$work/ids$T"
  tokens=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$work/ids$T")
  : > "$work/loupe$T.times"; : > "$work/torch$T.times"; : > "$work/torchc$T.times"; : > "$work/sgemm$T.rates"
  for round in $(seq "$runs"); do
    seconds lens "$f32" "$work/text$T" >> "$work/loupe$T.times"
    start=$(date +%s.%N)
    "$torch_python" "$root/bench/lens_torch.py" "$f32" "$work/ids$T" --threads "$threads" 2>/dev/null > "$work/torch.json"
    end=$(date +%s.%N)
    echo "$end - $start" | bc -l >> "$work/torch$T.times"
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["compute_s"])' "$work/torch.json" >> "$work/torchc$T.times"
    "$build"/sgemm_rate "$tokens" "$C" "$V" 3 | sed 's/.*s, \([0-9.]*\) GFLOP.*/\1/' >> "$work/sgemm$T.rates"
    echo "T=$T round $round: loupe $(tail -1 "$work/loupe$T.times") s, torch $(tail -1 "$work/torch$T.times") s, sgemm $(tail -1 "$work/sgemm$T.rates") GFLOP/s, load $(cut -d' ' -f1 /proc/loadavg)" | tee -a "$out/log.txt"
  done
  loupe_s=$(median < "$work/loupe$T.times"); torch_s=$(median < "$work/torch$T.times")
  torch_c=$(median < "$work/torchc$T.times"); sgemm=$(median < "$work/sgemm$T.rates")
  # projections 2 (L+1) T C V; forward 2 T L (4 C^2 + 2 C I) + causal attention 2 L T^2 C
  gflop=$(echo "(2*($L+1)*$tokens*$C*$V + 2*$tokens*$L*(4*$C*$C + 2*$C*$I) + 2*$L*$tokens*$tokens*$C) / 10^9" | bc -l)
  printf "| %d | %.2f | %.2f | %.2f | %.2fx | %.2fx | %.0f | %.1f | %.1f | %.0f %% |\n" "$tokens" "$loupe_s" "$torch_s" "$torch_c" \
    "$(echo "$torch_s / $loupe_s" | bc -l)" "$(echo "$torch_c / $loupe_s" | bc -l)" "$gflop" "$(echo "$gflop / $loupe_s" | bc -l)" \
    "$sgemm" "$(echo "100 * $gflop / $loupe_s / $sgemm" | bc -l)" >> "$table.lens"
done

if [ "${EXTRAS:-1}" = 0 ]; then
  { echo "# loupe lens benchmarks"; echo
    echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $threads threads for both, medians of $runs runs, load average at the end $(cut -d' ' -f1-3 /proc/loadavg)."
    echo; cat "$table.lens"; } > "$table"
  rm -f "$table.lens"
  cat "$table"
  exit 0
fi

# F16 and BF16 against F32, at the longest text. F16 and BF16 weights are
# converted into 474 MB of fresh memory at every run, F32 weights are mapped
# from the file. On a virtual machine that hands memory freed for a few
# seconds back to its host, the first touch of that memory costs far more
# than on bare metal; so each dtype is timed twice per round: right after a
# run of another checkpoint (what a user switching models sees there), and
# again right after an untimed `loupe info` of the same checkpoint, which
# leaves the allocator and page cache as a second run finds them.
Tmax=${sizes##* }
for dtype in F32 F16 BF16; do : > "$work/dtype.$dtype"; : > "$work/dtype.$dtype.after-other"; done
for round in $(seq "$runs"); do
  for dtype in F32 F16 BF16; do
    case $dtype in F32) model=$f32 ;; F16) model=$f16 ;; BF16) model=$bf16 ;; esac
    seconds lens "$model" "$work/text$Tmax" >> "$work/dtype.$dtype.after-other"
    "$loupe" info --model "$model" > /dev/null
    seconds lens "$model" "$work/text$Tmax" >> "$work/dtype.$dtype"
  done
done

# Peak RSS at the longest text; load time (loupe info: config, mmap, bind).
weights=$("$loupe" info --model "$f32" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["weight_bytes"])')
peak=$(for _ in $(seq 3); do peak_rss_kb "$loupe" lens --model "$f32" --format json --file "$work/text$Tmax"; done | median)
load_s=$(for _ in $(seq "$runs"); do seconds "$loupe" info --model "$f32"; done | median)
load16_s=$(for _ in $(seq "$runs"); do seconds "$loupe" info --model "$f16"; done | median)

# Tokenizer throughput on the training corpus.
xz -dc "$train_corpus" > "$work/train.txt"
tokenizer=$("$build"/tokenizer_throughput "$f32" "$work/train.txt" 3 | tail -1)

# 1 vs 2 threads: the same JSON.
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 lens "$f32" "$work/text512" > "$work/one.json" 2>/dev/null || true
lens "$f32" "$work/text512" > "$work/two.json" 2>/dev/null || true
if cmp -s "$work/one.json" "$work/two.json"; then threads_result="identical bytes"; else threads_result="differ (see bench/out)"; cp "$work"/one.json "$work"/two.json "$out"/; fi

{
  echo "# loupe lens benchmarks"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $threads threads for both, medians of $runs runs, load average at the end $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "GPT-2-small-shaped random checkpoint (L = $L, C = $C, V = $V). Agreement with PyTorch at T = 128: $agreement"
  echo
  cat "$table.lens"
  echo
  echo "| measure | value |"
  echo "|---|---|"
  printf "| lens T = %d, F32 / F16 / BF16 (s), each after an untimed loupe info of the same checkpoint | %.2f / %.2f / %.2f |\n" "$Tmax" "$(median < "$work/dtype.F32")" "$(median < "$work/dtype.F16")" "$(median < "$work/dtype.BF16")"
  printf "| lens T = %d, F32 / F16 / BF16 (s), each right after a run of another checkpoint | %.2f / %.2f / %.2f |\n" "$Tmax" "$(median < "$work/dtype.F32.after-other")" "$(median < "$work/dtype.F16.after-other")" "$(median < "$work/dtype.BF16.after-other")"
  printf "| peak RSS, T = %d, F32 | %d MiB = weights (%d MiB) + %d MiB |\n" "$Tmax" $((peak / 1024)) $((weights / 1048576)) $(((peak - weights / 1024) / 1024))
  printf "| load (loupe info), F32 / F16 (s) | %.3f / %.3f |\n" "$load_s" "$load16_s"
  echo "| tokenizer, mixed-english-train (25 MB) | $tokenizer |"
  echo "| lens JSON, 1 thread vs $threads threads, T = 512 | $threads_result |"
} > "$table"
rm -f "$table.lens"
cat "$table"
