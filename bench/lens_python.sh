#!/usr/bin/env bash
# The Python package's m.lens against `loupe lens` and the PyTorch baseline at
# T = 512 on the GPT-2-small-shaped random checkpoint (bench/lens_python.py).
# usage: bench/lens_python.sh   (ROUNDS=3; the checkpoint is made once, in bench/models)
source "$(dirname "$0")/common.sh"
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-SkylakeX}
bench_build
model=${LOUPE_BENCH_MODEL:-$(bench_checkpoint F32)}
text=$(mktemp)
trap 'rm -f "$text"' EXIT
bench_text 512 "$text"
LOUPE_LIBRARY=$build/libloupe.so /usr/bin/python3 "$root/bench/lens_python.py" "$model" "$text" --rounds "${ROUNDS:-3}"
