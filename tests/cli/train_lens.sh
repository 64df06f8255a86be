#!/usr/bin/env bash
# loupe train-lens on the tiny GPT-2 model (with the embedded model's
# tokenizer) and a corpus of common words whose GPT-2 ids are below the tiny
# vocabulary's 1000: the lens folder it writes
# opens with loupe lens --tuned, names the model's final norm and
# unembedding by their hash (against tests/cli/unembedding_hash.py) and is
# refused by the same-shaped ReLU tiny model; a run that checkpoints and a second run
# resumed from that checkpoint end with the same bytes as the run straight
# through; the progress line reports each step's loss per layer, and a
# trained lens lowers the summed loss (the numbers themselves are
# tests/test_lens_training.c's, against PyTorch).
set -euo pipefail
loupe=${1:?usage: train_lens.sh path/to/loupe}
here=$(cd "$(dirname "$0")" && pwd)
data=${LOUPE_TEST_DATA:-$here/../data}
models=${LOUPE_MODELS:-$here/../../models}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
mkdir "$work/model"
cp "$data/gpt2-tiny-gelu/config.json" "$data/gpt2-tiny-gelu/model.safetensors" "$models/gpt2-demo/vocab.json" \
  "$models/gpt2-demo/merges.txt" "$work/model/"
corpus=$work/corpus.txt
python3 -c "
import random
rng, words = random.Random(3), 'the and of to in is a b c d e f on at he it an as or be'.split()
print('\n\n'.join(' '.join(rng.choice(words) for _ in range(60)) for _ in range(4)))" >"$corpus"
train() { "$loupe" train-lens --model "$work/model" --tokens-per-step 16 --context 24 --progress always "$@" "$corpus"; }

train --out "$work/straight" --steps 6 2>"$work/straight.log"
[ -f "$work/straight/config.json" ] && [ -f "$work/straight/params.safetensors" ] || fail "no lens folder written"
[ "$(grep -c '^step [0-9]*/6 ' "$work/straight.log")" -eq 6 ] || fail "expected six progress lines: $(cat "$work/straight.log")"
# the loss per layer (three layers) and its sum on every line
grep -Eq '^step 1/6 +[0-9]+ tok/s +loss [0-9.]+ [0-9.]+ [0-9.]+ +sum [0-9.]+$' "$work/straight.log" ||
  fail "progress line: $(head -1 "$work/straight.log")"
first=$(grep '^step 1/6' "$work/straight.log" | sed 's/.*sum //')
last=$(grep '^step 6/6' "$work/straight.log" | sed 's/.*sum //')
python3 -c "import sys; sys.exit(0 if float('$last') < float('$first') else 1)" || fail "loss did not fall: $first -> $last"
"$loupe" lens --model "$work/model" --ids 1,2,3 --tuned "$work/straight" --format json >/dev/null ||
  fail "the trained lens does not open"
# params.safetensors names the model's final norm and unembedding by their hash
stored=$(python3 "$here/unembedding_hash.py" --stored "$work/straight/params.safetensors")
expected=$(python3 "$here/unembedding_hash.py" "$work/model/model.safetensors")
[ "$stored" = "$expected" ] || fail "loupe.unembedding is '$stored', expected $expected"
# the ReLU tiny model has the same shape and another unembedding: refused
mkdir "$work/relu"
cp "$data/gpt2-tiny-relu/config.json" "$data/gpt2-tiny-relu/model.safetensors" "$work/model/vocab.json" \
  "$work/model/merges.txt" "$work/relu/"
if "$loupe" lens --model "$work/relu" --ids 1,2,3 --tuned "$work/straight" >/dev/null 2>"$work/relu.err"; then
  fail "the lens opened on another model's unembedding"
fi
grep -q "another model's unembedding" "$work/relu.err" || fail "refusal: $(cat "$work/relu.err")"

train --out "$work/first" --steps 6 --checkpoint-every 3 2>/dev/null
[ -f "$work/first/checkpoint.safetensors" ] || fail "no checkpoint written"
cmp -s "$work/first/params.safetensors" "$work/straight/params.safetensors" || fail "checkpointing changed the run"
train --out "$work/resumed" --steps 6 --resume "$work/first/checkpoint.safetensors" 2>"$work/resumed.log"
[ "$(grep -c '^step' "$work/resumed.log")" -eq 3 ] || fail "the resumed run did not take exactly steps 4 .. 6"
cmp -s "$work/resumed/params.safetensors" "$work/straight/params.safetensors" ||
  fail "the resumed run differs from the run straight through"
echo "train-lens: ok"
