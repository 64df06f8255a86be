#!/usr/bin/env bash
# loupe lens --precision bf16 against the exact f32 lens (docs/PRECISION.md)
# on the GPT-2-small-shaped random F32 checkpoint: `loupe lens --format json`
# (all rows, all metrics) at T tokens, the two modes interleaved (one of each
# per round, so both see the same load), medians of wall and CPU (user +
# system) seconds, and the ratios; the load average before and after.
#
#   bench/lens_bf16.sh          # RUNS=5 T=512 THREADS=$(nproc)
source "$(dirname "$0")/common.sh"
runs=${RUNS:-5}
T=${T:-512}
threads=${THREADS:-$(nproc)}
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# bench_build also keeps OpenBLAS (the forward pass of both modes) off its
# slow fallback kernels on a VM that hides the CPU model (bench/common.sh).
bench_build
model=$(bench_checkpoint F32)
bench_text "$T" "$work/text"
"$loupe" lens --precision bf16 --ids 1 >/dev/null || { echo "this CPU cannot run --precision bf16" >&2; exit 1; }
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$runs"); do
  for precision in f32 bf16; do
    /usr/bin/time -f "%e %U %S" -o "$work/time" \
      "$loupe" lens --model "$model" --format json --precision "$precision" --file "$work/text" > /dev/null
    read -r wall user system < "$work/time"
    echo "$wall" >> "$work/wall-$precision"
    echo "$user + $system" | bc -l >> "$work/cpu-$precision"
    echo "round $round $precision: wall $wall s, cpu $user + $system s"
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
for measure in wall cpu; do
  f32=$(median < "$work/$measure-f32")
  bf16=$(median < "$work/$measure-bf16")
  printf '%s seconds (median of %d): f32 %.2f, bf16 %.2f, f32 / bf16 = %.2fx\n' "$measure" "$runs" "$f32" "$bf16" \
    "$(echo "$f32 / $bf16" | bc -l)"
done
