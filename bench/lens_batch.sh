#!/usr/bin/env bash
# Throughput of `loupe lens --batch` against one `loupe lens` call per
# prompt, on PROMPTS prompts (default 200) of 10 to 40 tokens cut from the
# corpus, with the demo model (or MODEL). Each of ROUNDS rounds (default 3)
# times both ways back to back, so that both see the same load; the medians
# and their ratio are printed. Both write the same JSON (checked on the
# first round).
#
#   bench/lens_batch.sh        # PROMPTS=200 ROUNDS=3 THREADS=1 MODEL=models/gpt2-demo
#
# THREADS defaults to 1: on a small shared machine, threads that wait for
# each other at every barrier measure the load more than loupe.
source "$(dirname "$0")/common.sh"
export OMP_NUM_THREADS=${THREADS:-1} OPENBLAS_NUM_THREADS=${THREADS:-1}
prompts=${PROMPTS:-200}
rounds=${ROUNDS:-3}
model=${MODEL:-$root/models/gpt2-demo}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bench_build
bench_blas_kernels

# The prompts: consecutive pieces of the corpus's tokens, lengths drawn from 10 .. 40.
head -c 200000 "$corpus" | "$loupe" tokenize --model "$model" --json | python3 -c '
import json, random, sys
n = int(sys.argv[1]); ids = json.load(sys.stdin)["ids"]; rng = random.Random(1); at = 0
with open(sys.argv[2], "w") as jsonl, open(sys.argv[3], "w") as lists:
    for k in range(n):
        length = rng.randint(10, 40)
        piece = ids[at:at + length]; at += length
        jsonl.write(json.dumps({"id": k, "ids": piece}) + "\n")
        lists.write(",".join(map(str, piece)) + "\n")' "$prompts" "$work/prompts.jsonl" "$work/prompts.txt"
tokens=$(tr ',' '\n' <"$work/prompts.txt" | wc -l)

# times FILE CMD: appends "wall cpu" seconds of CMD (cpu = user + sys, children included) to FILE
TIMEFORMAT='%R %U %S'
times_of() { local file=$1; shift; { time "$@"; } 2>&1 | awk '{print $1, $2 + $3}' >>"$file"; }
one_call_each() {
  while read -r list; do "$loupe" lens --model "$model" --format json --ids "$list"; done <"$work/prompts.txt" >"$work/single.jsonl"
}
batch() { "$loupe" lens --model "$model" --batch "$work/prompts.jsonl" >"$work/batch.jsonl"; }

: >"$work/single.times"
: >"$work/batch.times"
for round in $(seq "$rounds"); do
  times_of "$work/single.times" one_call_each
  times_of "$work/batch.times" batch
  if [ "$round" = 1 ]; then
    python3 - "$work/single.jsonl" "$work/batch.jsonl" <<'PY' || { echo "the batch's JSON differs from the single calls'" >&2; exit 1; }
import json, sys
text, at, single, decoder = open(sys.argv[1]).read(), 0, [], json.JSONDecoder()
while text[at:].strip():                 # pretty-printed documents, one after another
    document, at = decoder.raw_decode(text, at)
    single.append(document)
    while at < len(text) and text[at].isspace(): at += 1
batch = [json.loads(line) for line in open(sys.argv[2])]
for line in batch: line.pop("id")
sys.exit(0 if single == batch else 1)
PY
  fi
done
single=$(cut -d' ' -f1 "$work/single.times" | median); single_cpu=$(cut -d' ' -f2 "$work/single.times" | median)
batched=$(cut -d' ' -f1 "$work/batch.times" | median); batched_cpu=$(cut -d' ' -f2 "$work/batch.times" | median)
echo "prompts: $prompts ($tokens tokens, 10 to 40 each), model: $(basename "$model"), rounds: $rounds, threads: $OMP_NUM_THREADS, load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "one loupe lens call per prompt: median wall $single s ($(echo "scale=1; $prompts / $single" | bc) prompts/s), cpu $single_cpu s"
echo "loupe lens --batch:             median wall $batched s ($(echo "scale=1; $prompts / $batched" | bc) prompts/s), cpu $batched_cpu s"
echo "speed-up: $(echo "scale=2; $single / $batched" | bc)x wall, $(echo "scale=2; $single_cpu / $batched_cpu" | bc)x cpu"
