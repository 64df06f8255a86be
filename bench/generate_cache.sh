#!/usr/bin/env bash
# Wall time of `loupe generate --tokens 200` (greedy) on the embedded model and
# on the GPT-2-small-shaped BF16 checkpoint, with this build (keys and values
# cached) and with BASELINE, a loupe built without the cache (e.g. from an
# earlier commit: git worktree add /tmp/base COMMIT && cmake -S /tmp/base -B
# /tmp/base/build -DCMAKE_BUILD_TYPE=Release && cmake --build /tmp/base/build),
# interleaved for RUNS rounds (default 5); medians, their ratio, and whether
# both printed the same text. MODELS="demo bf16" (the default) picks them.
source "$(dirname "$0")/common.sh"
runs=${RUNS:-5}
tokens=${TOKENS:-200}
baseline=${BASELINE:?set BASELINE to a loupe built without the cache}
bench_build
text="And God said, Let there be light: and there was light."
seconds() { local start end; start=$(date +%s.%N); "$@" >/dev/null; end=$(date +%s.%N); echo "$end - $start" | bc; }
models=()
for name in ${MODELS:-demo bf16}; do
  case $name in
    demo) models+=("$root/models/gpt2-demo") ;;
    bf16) models+=("$(bench_checkpoint BF16)") ;;
    *) echo "MODELS: demo or bf16, not $name" >&2; exit 2 ;;
  esac
done
for model in "${models[@]}"; do
  cmp <("$loupe" generate --model "$model" --tokens "$tokens" "$text") \
      <("$baseline" generate --model "$model" --tokens "$tokens" "$text") >/dev/null &&
    same="same text" || same="TEXTS DIFFER"
  : >"$models_dir/.cached" && : >"$models_dir/.baseline"
  for _ in $(seq "$runs"); do
    seconds "$loupe" generate --model "$model" --tokens "$tokens" "$text" >>"$models_dir/.cached"
    seconds "$baseline" generate --model "$model" --tokens "$tokens" "$text" >>"$models_dir/.baseline"
  done
  cached=$(median <"$models_dir/.cached")
  before=$(median <"$models_dir/.baseline")
  echo "$(basename "$model"): generate --tokens $tokens: cached $cached s, baseline $before s (medians of $runs)," \
       "speed-up $(echo "scale=1; $before / $cached" | bc)x, $same; load average $(cut -d' ' -f1-3 /proc/loadavg)"
  rm -f "$models_dir/.cached" "$models_dir/.baseline"
done
