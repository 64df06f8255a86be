#!/usr/bin/env bash
# Corpus throughput, one process against MPI ranks (docs/SCALE.md):
# `loupe corpus` with 1 process x 2 threads against `mpirun -np 2 loupe-mpi
# corpus` with 2 ranks x 1 thread, on the demo model (models/gpt2-demo) over
# the first BYTES bytes of the validation text, ROUNDS interleaved rounds;
# prints each run's positions per second (wall time of the whole command,
# mpirun's start included), the medians, their ratio and the load average.
# Then the lens's cost per token on the GPT-2-small-shaped checkpoint
# (tools/lens_rate, T = 512), the base of docs/SCALE.md's table of run times.
# Needs a build with loupe-mpi (Open MPI found) and the tools.
#   BYTES=8000 ROUNDS=3 bench/corpus_mpi.sh
source "$(dirname "$0")/common.sh"
bytes=${BYTES:-8000} rounds=${ROUNDS:-3}
[ -x "$build/loupe-mpi" ] || { echo "bench: no $build/loupe-mpi (Open MPI not found by CMake?)" >&2; exit 1; }
bench_blas_kernels
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
head -c "$bytes" "$corpus" >"$work/sub.txt"
options=(--model "$root/models/gpt2-demo" --separator '<|endoftext|>' --format json --progress never "$work/sub.txt")

# run_rate OUT CMD...: runs CMD, checks its report, prints positions per second
run_rate() {
  local out=$1 start end
  shift
  start=$(date +%s.%N)
  "$@" >"$out" || { echo "bench: failed: $*" >&2; exit 1; }
  end=$(date +%s.%N)
  python3 -c 'import json, sys; p = json.load(open(sys.argv[1]))["corpus"]["positions"]; print("%d %.1f" % (p, p / (float(sys.argv[3]) - float(sys.argv[2]))))' "$out" "$start" "$end"
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$work/one" ; : >"$work/ranks"
for ((r = 1; r <= rounds; r++)); do
  one=$(OMP_NUM_THREADS=2 run_rate "$work/one.json" "$loupe" corpus "${options[@]}")
  ranks=$(OMP_NUM_THREADS=1 run_rate "$work/ranks.json" mpirun --oversubscribe -np 2 -x OMP_NUM_THREADS \
            -x OPENBLAS_CORETYPE "$build/loupe-mpi" corpus "${options[@]}")
  echo "round $r: 1 process x 2 threads: ${one#* } positions/s; 2 ranks x 1 thread: ${ranks#* } positions/s" \
       "(${one% *} positions; load $(cut -d' ' -f1 /proc/loadavg))"
  echo "${one#* }" >>"$work/one"; echo "${ranks#* }" >>"$work/ranks"
  [ "${one% *}" = "${ranks% *}" ] || { echo "bench: the two runs scored different positions" >&2; exit 1; }
done
m1=$(median <"$work/one") m2=$(median <"$work/ranks")
echo "median: 1 x 2 threads $m1 positions/s, 2 ranks x 1 thread $m2 positions/s, ratio ranks/threads" \
     "$(awk -v a="$m2" -v b="$m1" 'BEGIN {printf "%.2f", a / b}')"
size=$(OMP_NUM_THREADS=2 "$loupe" corpus "${options[@]}" --save-state "$work/all.state" >/dev/null && stat -c %s "$work/all.state")
echo "state of the whole run: $size bytes"

checkpoint=$(bench_checkpoint F32)
echo "GPT-2-small shape, tools/lens_rate T = 512, 2 threads:"
OMP_NUM_THREADS=2 "$build/lens_rate" "$checkpoint" 512 3
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
