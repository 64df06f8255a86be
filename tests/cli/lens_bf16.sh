#!/usr/bin/env bash
# loupe lens --precision bf16 (docs/PRECISION.md): on random checkpoints
# (an odd vocabulary, a width that is no multiple of 32, F32 weights that
# BF16 rounds and BF16 weights that it does not, a Llama-family one), every
# logit of every cell lies within the cell's logit_error_bound of the exact
# lens (test_lens_bf16 on each folder); the JSON says which precision ran
# and carries the bound and top1_guaranteed in bf16 only; the f32 default
# is the same bytes as --precision f32; the bf16 JSON is the same bytes on
# 1 and 2 threads; --window and --batch carry the precision and the bounds
# (each cell within its bound of the f32 lens run the same way); a CPU
# without AVX512_BF16 (LOUPE_CPU=avx2 stands in for one) is refused with one
# line.
set -euo pipefail
loupe=${1:?usage: lens_bf16.sh path/to/loupe}
build=$(dirname "$loupe")
maker=$build/make_random_checkpoint
checker=$build/tests/test_lens_bf16
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

message=$(LOUPE_CPU=avx2 "$loupe" lens --precision bf16 --ids 1,2,3 2>&1 >/dev/null) && {
  echo "FAIL: bf16 accepted with LOUPE_CPU=avx2" >&2
  exit 1
}
expected="loupe: --precision bf16: this CPU has no AVX512_BF16 (vdpbf16ps) at the level in force (avx2); use --precision f32"
[ "$message" = "$expected" ] || { echo "FAIL: refusal message: $message" >&2; exit 1; }
if ! "$loupe" lens --precision bf16 --ids 1 >/dev/null 2>&1; then
  echo "skip: this CPU has no AVX512_BF16"
  exit 77
fi

"$maker" "$work/gpt2-f32" --dtype F32 --layers 2 --width 72 --heads 4 --vocab 777 --context 32 --seed 3 >/dev/null
"$maker" "$work/gpt2-bf16" --dtype BF16 --layers 2 --width 64 --heads 4 --vocab 1000 --context 32 --seed 4 --std 0.2 >/dev/null
"$maker" "$work/llama-f32" --arch llama --dtype F32 --layers 2 --width 96 --heads 4 --kv-heads 2 --vocab 515 \
  --context 32 --seed 5 >/dev/null
"$checker" "$work/gpt2-f32" "$work/gpt2-bf16" "$work/llama-f32"

text="The logit lens in BF16: faster, and every logit within a proven bound of the exact one."
"$loupe" lens --format json --subblocks "$text" > "$work/default.json"
"$loupe" lens --format json --subblocks --precision f32 "$text" > "$work/f32.json"
cmp -s "$work/default.json" "$work/f32.json" || { echo "FAIL: the default differs from --precision f32" >&2; exit 1; }
for threads in 1 2; do
  OMP_NUM_THREADS=$threads "$loupe" lens --format json --subblocks --topk 1 --precision bf16 "$text" > "$work/bf16-$threads.json"
done
cmp -s "$work/bf16-1.json" "$work/bf16-2.json" || { echo "FAIL: bf16 JSON differs between 1 and 2 threads" >&2; exit 1; }
python3 - "$work/f32.json" "$work/bf16-1.json" <<'PY'
import json, sys
exact, fast = (json.load(open(path)) for path in sys.argv[1:])
assert exact["options"]["precision"] == "f32" and fast["options"]["precision"] == "bf16", (exact["options"], fast["options"])
guaranteed = 0
for exact_row, fast_row in zip(exact["cells"], fast["cells"]):
    for e, f in zip(exact_row, fast_row):
        assert "logit_error_bound" not in e and "top1_guaranteed" not in e, e
        bound = f["logit_error_bound"]
        assert isinstance(bound, float) and bound > 0, f
        assert len(f["top"]) == 1  # --topk 1: the second entry the flag needs is not printed
        for name in ("target", "input", "final_top"):
            if name in f and f[name]["id"] == e[name]["id"]:
                assert abs(f[name]["logit"] - e[name]["logit"]) <= bound, (name, e[name], f[name], bound)
        if f["top1_guaranteed"]:
            guaranteed += 1
            assert f["top"][0][0] == e["top"][0][0], (e["top"], f["top"])
print("bf16 lens: %d of %d cells with a guaranteed top-1" % (guaranteed, sum(map(len, fast["cells"]))))
PY
# --window and --batch: every cell of the bf16 run within its bound of the
# f32 run with the same options.
for precision in f32 bf16; do
  "$loupe" lens --format json --precision $precision --window 8 --stride 4 "$text" > "$work/window-$precision.json"
  printf '{"text": "%s"}\n{"text": "Short."}\n' "$text" |
    "$loupe" lens --precision $precision --batch /dev/stdin > "$work/batch-$precision.jsonl"
done
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
def check(exact, fast, where):
    assert exact["options"]["precision"] == "f32" and fast["options"]["precision"] == "bf16", (where, fast["options"])
    assert len(exact["cells"]) == len(fast["cells"]), where
    for exact_row, fast_row in zip(exact["cells"], fast["cells"]):
        assert len(exact_row) == len(fast_row), where
        for e, f in zip(exact_row, fast_row):
            bound = f["logit_error_bound"]
            assert isinstance(bound, float) and bound > 0 and isinstance(f["top1_guaranteed"], bool), (where, f)
            for name in ("target", "input", "final_top"):
                if name in f and f[name]["id"] == e[name]["id"]:
                    assert abs(f[name]["logit"] - e[name]["logit"]) <= bound, (where, name, e[name], f[name], bound)
            if f["top1_guaranteed"]:
                assert f["top"][0][0] == e["top"][0][0], (where, e["top"], f["top"])
check(json.load(open(work + "/window-f32.json")), json.load(open(work + "/window-bf16.json")), "--window")
exact_lines, fast_lines = (open("%s/batch-%s.jsonl" % (work, p)).read().splitlines() for p in ("f32", "bf16"))
assert len(exact_lines) == len(fast_lines) == 2, (len(exact_lines), len(fast_lines))
for k, (e, f) in enumerate(zip(exact_lines, fast_lines)):
    check(json.loads(e), json.loads(f), "--batch line %d" % (k + 1))
PY
echo "lens --precision bf16: bound holds on random checkpoints; JSON, threads and refusal as documented"
