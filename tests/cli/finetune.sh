#!/usr/bin/env bash
# loupe finetune on the tiny GPT-2 model, with a tokenizer cut down to its
# 1000 tokens (GPT-2's first 999 and <|endoftext|> as 999, so that documents
# can be joined): the folder it writes opens with loupe lens and holds the
# input's tensors under their names and shapes in F32, with training.json
# recording every step's losses as the progress lines print them; on a
# repeated small text the loss falls; a run stopped with --stop-after and
# resumed, and a run killed after its checkpoint and resumed, end with the
# bytes of model.safetensors and training.json of the run straight through.
# (The gradients and the optimizer are checked against PyTorch by the
# library's tests; this is the command.)
set -euo pipefail
loupe=${1:?usage: finetune.sh path/to/loupe}
here=$(cd "$(dirname "$0")" && pwd)
data=${LOUPE_TEST_DATA:-$here/../data}
models=${LOUPE_MODELS:-$here/../../models}
work=$(mktemp -d)
killed_pid=
trap '[ -n "$killed_pid" ] && kill -9 "$killed_pid" 2>/dev/null; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

model=$work/model
mkdir "$model"
cp "$data/gpt2-tiny-gelu/config.json" "$data/gpt2-tiny-gelu/model.safetensors" "$model/"
python3 - "$models/gpt2-demo" "$model" <<'PY'
import json, sys
source, target = sys.argv[1], sys.argv[2]
vocab = json.load(open(source + "/vocab.json", encoding="utf-8"))
small = {token: i for token, i in vocab.items() if i < 999}
small["<|endoftext|>"] = 999
lines = open(source + "/merges.txt", encoding="utf-8").read().split("\n")
kept = [lines[0]] + [m for m in lines[1:] if len(m.split(" ")) == 2 and all(p in small for p in m.split(" "))
                     and "".join(m.split(" ")) in small]
json.dump(small, open(target + "/vocab.json", "w", encoding="utf-8"), ensure_ascii=False)
open(target + "/merges.txt", "w", encoding="utf-8").write("\n".join(kept) + "\n")
PY
# documents of common words (blank lines between them), a held-out one, and
# a second part of the corpus for the killed run
python3 - "$work" <<'PY'
import random, sys
rng, words = random.Random(5), 'the and of to in is a b c d e f on at he it an as or be'.split()
def documents(n):
    return '\n\n'.join(' '.join(rng.choice(words) for _ in range(rng.randint(20, 80))) for _ in range(n)) + '\n'
open(sys.argv[1] + "/part1.txt", "w").write(documents(30))
open(sys.argv[1] + '/part2.txt', 'w').write(documents(40))
open(sys.argv[1] + '/eval.txt', 'w').write(documents(4))
PY
options=(--model "$model" --context 16 --batch-tokens 32 --micro-batch 1 --lr 3e-3 --warmup-steps 2
  --lens-weight 0.5 --eval "$work/eval.txt" --eval-every 10 --checkpoint-every 10 --progress always)
finetune() { "$loupe" finetune "${options[@]}" "$@"; }

# ---------------------------------------------------------------- straight through
finetune --out "$work/straight" --steps 30 "$work/part1.txt" "$work/part2.txt" 2>"$work/straight.log" ||
  fail "the run failed: $(tail -3 "$work/straight.log")"
for file in config.json model.safetensors vocab.json merges.txt training.json checkpoint.safetensors; do
  [ -f "$work/straight/$file" ] || fail "the folder has no $file"
done
[ "$(grep -c '^step [0-9]*/30 ' "$work/straight.log")" -eq 30 ] || fail "expected 30 progress lines: $(head -3 "$work/straight.log")"
grep -Eq '^step 1/30  loss [0-9.]+  final [0-9.]+  lens [0-9.]+  grad [0-9.e+-]+  lr [0-9.e+-]+  [0-9]+\.[0-9]{3} s  [0-9]+ tok/s$' \
  "$work/straight.log" || fail "progress line: $(grep -m1 '^step' "$work/straight.log")"
# evaluations before the first step and at 10, 20, 30
[ "$(grep -Ec '^eval (0|10|20|30)/30  loss [0-9.]+  final [0-9.]+  lens [0-9.]+  \([0-9]+ windows\)$' \
  "$work/straight.log")" -eq 4 ] || fail "eval lines: $(grep '^eval' "$work/straight.log")"
"$loupe" lens --model "$work/straight" --ids 1,2,3 --format json >/dev/null || fail "loupe lens does not open the folder"
python3 - "$model/model.safetensors" "$work/straight" "$work/straight.log" <<'PY' || fail "the folder's contents"
import json, struct, sys
def header(path):
    raw = open(path, "rb").read(8)
    n = struct.unpack("<Q", raw)[0]
    with open(path, "rb") as f:
        f.seek(8)
        h = json.loads(f.read(n))
    h.pop("__metadata__", None)
    return h
before, after = header(sys.argv[1]), header(sys.argv[2] + "/model.safetensors")
assert sorted(before) == sorted(after), (sorted(before), sorted(after))
for name, tensor in before.items():
    assert after[name]["shape"] == tensor["shape"], name
    assert after[name]["dtype"] == "F32", (name, after[name]["dtype"])
config = json.load(open(sys.argv[2] + "/config.json"))
assert config.get("dtype", "float32") == "float32" and config.get("torch_dtype", "float32") == "float32", config
record = json.load(open(sys.argv[2] + "/training.json"))
assert record["format"] == "loupe.finetune/1"
assert record["settings"]["lens-weight"] == 0.5 and record["settings"]["steps"] == 30
assert record["settings"]["context"] == 16 and record["settings"]["batch-tokens"] == 32
assert record["steps_done"] == 30 and record["windows_dealt"] == 60
losses = record["losses"]
assert [s["step"] for s in losses] == list(range(1, 31))
printed = [l.split() for l in open(sys.argv[3]) if l.startswith("step ")]
for entry, line in zip(losses, printed):
    for key, column in (("loss", 3), ("final_ce", 5), ("lens_ce", 7)):
        assert abs(entry[key] - float(line[column])) <= 6e-5, (entry, line)
    # the loss is its two parts with lambda 0.5
    assert abs(entry["loss"] - (entry["final_ce"] + 0.5 * entry["lens_ce"])) <= 1e-6 * entry["loss"], entry
assert [e["step"] for e in record["evaluations"]] == [0, 10, 20, 30], record["evaluations"]
PY

# ---------------------------------------------------------------- the loss falls on a repeated text
python3 -c "print(' '.join(['the cat sat on the mat and the dog sat on the log'] * 60))" >"$work/repeated.txt"
"$loupe" finetune --model "$model" --out "$work/repeated" --context 16 --batch-tokens 64 --steps 25 --lr 1e-2 \
  --warmup-steps 2 --lens-weight 1 --progress always "$work/repeated.txt" 2>"$work/repeated.log" ||
  fail "the repeated-text run failed: $(tail -3 "$work/repeated.log")"
python3 - "$work/repeated/training.json" <<'PY' || fail "the loss did not fall on a repeated text"
import json, sys
losses = json.load(open(sys.argv[1]))["losses"]
first = sum(s["loss"] for s in losses[:3]) / 3
last = sum(s["loss"] for s in losses[-3:]) / 3
final_first, final_last = losses[0]["final_ce"], losses[-1]["final_ce"]
lens_first, lens_last = losses[0]["lens_ce"], losses[-1]["lens_ce"]
print(f"loss {first:.3f} -> {last:.3f}, final CE {final_first:.3f} -> {final_last:.3f}, "
      f"lens CE {lens_first:.3f} -> {lens_last:.3f}", file=sys.stderr)
# a text of eight word types repeated: far below the uniform 6.9 nats of 1000 tokens
assert last < 0.6 * first and final_last < final_first and lens_last < lens_first
PY

# ---------------------------------------------------------------- stopped, then resumed
finetune --out "$work/stopped" --steps 30 --stop-after 15 "$work/part1.txt" "$work/part2.txt" 2>"$work/stopped.log"
[ "$(grep -c '^step' "$work/stopped.log")" -eq 15 ] || fail "--stop-after 15 did not stop after step 15"
[ -f "$work/stopped/checkpoint.safetensors" ] || fail "--stop-after wrote no checkpoint"
finetune --out "$work/stopped" --steps 30 --resume "$work/part1.txt" "$work/part2.txt" 2>"$work/resumed.log"
[ "$(grep -c '^step' "$work/resumed.log")" -eq 15 ] || fail "the resumed run did not take exactly steps 16 .. 30"
grep -q '^step 16/30 ' "$work/resumed.log" || fail "the resumed run did not start at step 16"
cmp -s "$work/stopped/model.safetensors" "$work/straight/model.safetensors" ||
  fail "the stopped and resumed run's weights differ from the run straight through"
cmp -s "$work/stopped/training.json" "$work/straight/training.json" ||
  fail "the stopped and resumed run's training.json differs: $(diff "$work/stopped/training.json" "$work/straight/training.json" | head -5)"

# ---------------------------------------------------------------- killed, then resumed
# The corpus's second file is a FIFO: the run trains on the first file,
# checkpoints at step 10, then waits to open the FIFO and is killed there.
mkfifo "$work/fifo"
"$loupe" finetune "${options[@]}" --out "$work/killed" --steps 30 "$work/part1.txt" "$work/fifo" 2>"$work/killed.log" &
killed_pid=$!
for _ in $(seq 600); do
  [ -f "$work/killed/checkpoint.safetensors" ] && break
  kill -0 "$killed_pid" 2>/dev/null || break
  sleep 0.05
done
[ -f "$work/killed/checkpoint.safetensors" ] || fail "no checkpoint before the kill: $(tail -3 "$work/killed.log")"
# wait (up to 60 s on a loaded machine) until step 11 has run: the run then
# blocks on the FIFO
for _ in $(seq 1200); do
  grep -q '^step 11/30 ' "$work/killed.log" && break
  kill -0 "$killed_pid" 2>/dev/null || break
  sleep 0.05
done
sleep 0.1
kill -9 "$killed_pid" 2>/dev/null || fail "the run ended before the kill: $(tail -3 "$work/killed.log")"
wait "$killed_pid" 2>/dev/null || true
killed_pid=
grep -q '^step 11/30 ' "$work/killed.log" || fail "the killed run stopped before its checkpoint: $(tail -3 "$work/killed.log")"
finetune --out "$work/killed" --steps 30 --resume "$work/part1.txt" "$work/part2.txt" 2>"$work/killed_resumed.log" ||
  fail "resuming the killed run failed: $(tail -3 "$work/killed_resumed.log")"
cmp -s "$work/killed/model.safetensors" "$work/straight/model.safetensors" ||
  fail "the killed and resumed run's weights differ from the run straight through"
cmp -s "$work/killed/training.json" "$work/straight/training.json" ||
  fail "the killed and resumed run's training.json differs"

# ---------------------------------------------------------------- a family it cannot train
# llama-tiny (with the cut-down tokenizer): trained where the library has the
# Llama family's backward pass, else refused with one line naming the family
# before anything is read or written
family=$work/family_case
mkdir "$family"
cp "$data/llama-tiny/config.json" "$data/llama-tiny/model.safetensors" "$model/vocab.json" "$model/merges.txt" "$family/"
if "$loupe" finetune --model "$family" --out "$work/family_out" --context 16 --batch-tokens 32 --steps 2 \
  --progress never "$work/part1.txt" 2>"$work/family.err"; then
  "$loupe" lens --model "$work/family_out" --ids 1,2,3 --format json >/dev/null || fail "the llama folder does not open"
else
  [ "$(wc -l <"$work/family.err")" -eq 1 ] && grep -qi "llama" "$work/family.err" ||
    fail "the refusal of the llama family: $(cat "$work/family.err")"
  [ ! -e "$work/family_out" ] || fail "a refused family wrote $work/family_out"
fi
echo "finetune: ok"
