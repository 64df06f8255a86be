# Shared by the bench/ scripts: where things are, and how to make the inputs.
# Source it; it sets: root, build, loupe, models_dir, corpus, train_corpus.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${LOUPE_BUILD_DIR:-$root/build}
loupe=$build/loupe
models_dir=$root/bench/models   # generated checkpoints: ignored by git, never committed
corpus=${LOUPE_CORPUS:-$root/../shared/corpus/mixed-english-val.txt}
train_corpus=${LOUPE_TRAIN_CORPUS:-$root/../shared/corpus/mixed-english-train.txt.xz}

bench_build() {
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j"$(nproc)" >/dev/null
  bench_blas_kernels
}

# bench_build_targets TARGET...: the same for only these targets.
bench_build_targets() {
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" --target "$@" -j"$(nproc)" >/dev/null
  bench_blas_kernels
}

# bench_blas_kernels: OpenBLAS picks its kernels from the CPU model it reads;
# under a virtual machine that hides the model it falls back to Prescott
# (SSE3, about a sixth of the AVX-512 rate), which would make every
# sgemm baseline and loupe's forward pass slow alike. When that happens on
# a CPU with AVX-512 (or AVX2), export OPENBLAS_CORETYPE=SkylakeX (or
# Haswell) for the whole benchmark, and say so. A value the user set is
# kept.
bench_blas_kernels() {
  if [ -n "${OPENBLAS_CORETYPE:-}" ]; then
    echo "bench: OpenBLAS kernels as set: OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE" >&2
    return
  fi
  local core
  core=$(OPENBLAS_VERBOSE=2 "$build"/sgemm_rate 1 1 1 1 2>&1 | sed -n 's/.*Core: \([A-Za-z0-9]*\).*/\1/p' | head -1)
  if [ "$core" = Prescott ]; then
    if grep -qw avx512f /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX
    elif grep -qw avx2 /proc/cpuinfo; then export OPENBLAS_CORETYPE=Haswell
    fi
  fi
  echo "bench: OpenBLAS chose ${core:-?} kernels${OPENBLAS_CORETYPE:+; using OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE (the CPU model is hidden)}" >&2
}

# bench_checkpoint DTYPE: a GPT-2-small-shaped random checkpoint (12 layers,
# width 768, 12 heads, vocabulary 50257, context 1024), made once.
bench_checkpoint() {
  local dtype=$1 dir=$models_dir/gpt2-small-random-$1
  if [ ! -f "$dir/model.safetensors" ]; then
    mkdir -p "$models_dir"
    "$build"/make_random_checkpoint "$dir" --dtype "$dtype" >&2
    cp "$root"/models/gpt2-demo/vocab.json "$root"/models/gpt2-demo/merges.txt "$dir"/
  fi
  echo "$dir"
}

# bench_llama3b_checkpoint: a Llama-3.2-3B-shaped random BF16 checkpoint
# (28 layers of width 3072, 24 query and 8 key/value heads of 128, a SwiGLU
# of 8192, a vocabulary of 128256, the head tied to the embedding; about
# 6.4 GB), made once; GPT-2's tokenizer is copied in (its ids lie inside
# the vocabulary).
bench_llama3b_checkpoint() {
  local dir=$models_dir/llama-3.2-3b-shaped-random-BF16 free_kb
  if [ ! -f "$dir/model.safetensors" ]; then
    free_kb=$(df -Pk "$root/bench" | awk 'NR == 2 {print $4}')
    if [ "$free_kb" -lt $(( 8 * 1024 * 1024 )) ]; then
      echo "the checkpoint needs about 6.4 GB; only $(( free_kb / 1048576 )) GB free under $root/bench" >&2
      return 1
    fi
    mkdir -p "$models_dir"
    "$build"/make_random_checkpoint "$dir" --arch llama --dtype BF16 --layers 28 --width 3072 --heads 24 \
      --kv-heads 8 --head-dim 128 --inner 8192 --vocab 128256 --context 8192 --tied >&2
    cp "$root"/models/gpt2-demo/vocab.json "$root"/models/gpt2-demo/merges.txt "$dir"/
  fi
  echo "$dir"
}

# bench_text N OUT: the first N tokens (at most) of the corpus as a text file.
bench_text() {
  local n=$1 out=$2
  head -c $((n * 8)) "$corpus" | "$loupe" tokenize --json | python3 -c '
import json, sys
n = int(sys.argv[1]); tokens = json.load(sys.stdin)["tokens"]
sys.stdout.write("".join(tokens[:n]))' "$n" > "$out"
}

# peak_rss_kb CMD...: the peak resident set size of a command, in KiB.
peak_rss_kb() {
  /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}'
}

# median: the median of the numbers on standard input.
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
