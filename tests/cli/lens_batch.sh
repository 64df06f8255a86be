#!/usr/bin/env bash
# loupe lens --batch PROMPTS.jsonl: each output line, parsed, equals the JSON
# of `loupe lens --format json` on that prompt alone, within float32 rounding
# below the avx512 projection (lens_reference.lens_documents_agree) (texts
# and ids, more prompts than one pack holds, with --subblocks --topk --layers
# too); the
# "id" of a line comes first and is echoed as given; bad lines are warnings
# naming their line, skipped, and with --strict an error.
set -euo pipefail
LOUPE=${1:?usage: lens_batch.sh path/to/loupe}
export PYTHONPATH="$(cd "$(dirname "$0")/../data" && pwd)"
python3 - "$LOUPE" <<'PY'
import json, os, sys, tempfile
from lens_reference import check, lens_documents_agree, run, run_json

loupe = sys.argv[1]
work = tempfile.mkdtemp()
verse = ("In the beginning God created the heaven and the earth. And the earth was without form, and void; "
         "and darkness was upon the face of the deep. ")
long_text = verse * 9          # some 300 tokens: with the others, more than one pack of 512
prompts = [
    {"text": "The quick brown fox", "id": "fox"},
    {"ids": [464, 2068, 7586, 21831], "id": 7},
    {"text": long_text},
    {"text": "Hello", "id": 2.5},
    {"text": long_text[:-40], "id": "long"},
    {"ids": [50256, 40, 1842]},
]
path = os.path.join(work, "prompts.jsonl")
with open(path, "w") as f:
    for p in prompts: f.write(json.dumps(p) + "\n")

def single(prompt, *options):
    if "ids" in prompt:
        return run_json(loupe, "lens", "--format", "json", *options, "--ids", ",".join(map(str, prompt["ids"])))
    return run_json(loupe, "lens", "--format", "json", *options, prompt["text"])

def check_batch(options, chosen):
    out, err, _ = run(loupe, "lens", "--batch", path, *options)
    check(err == "", "--batch %s: stderr %r" % (options, err))
    lines = out.split("\n")
    check(lines[-1] == "" and len(lines) == len(prompts) + 1, "--batch %s: %d lines" % (options, len(lines) - 1))
    for k in chosen:
        document = json.loads(lines[k])
        if "id" in prompts[k]:
            check(lines[k].startswith('{"id": '), "line %d: id not first" % k)
            check(document.pop("id") == prompts[k]["id"], "line %d: id %r" % (k, prompts[k]["id"]))
        check("id" not in document, "line %d: an id it was not given" % k)
        expected = single(prompts[k], *options)
        check(lens_documents_agree(document, expected), "--batch %s: prompt %d differs from its own loupe lens" % (options, k))

check_batch([], range(len(prompts)))
check_batch(["--subblocks", "--topk", "2", "--layers", "1:4"], [0, 5])

# bad lines: warnings in order, the good lines still written; --strict stops
bad = os.path.join(work, "bad.jsonl")
with open(bad, "w") as f:
    f.write('{"text": "one"}\n\n[1, 2]\n{"ids": [1, -3]}\n{"text": "two", "id": "b"}\n{"text": ""}\n')
out, err, _ = run(loupe, "lens", "--batch", bad)
check(err.splitlines() == [
    "loupe: warning: %s:3: expected an object with either \"text\" (a string) or \"ids\" (an array of token ids) (skipped)" % bad,
    "loupe: warning: %s:4: ids[1]: expected a token id from 0 to 50256 (skipped)" % bad,
    "loupe: warning: %s:6: the prompt has no tokens (skipped)" % bad], "warnings: %r" % err)
lines = [json.loads(line) for line in out.splitlines()]
check(len(lines) == 2 and lines[1]["id"] == "b" and [t["id"] for t in lines[1]["tokens"]] == [11545],
      "the good lines: %r" % out[:200])
out, err, status = run(loupe, "lens", "--batch", bad, "--strict", expect=1)
check(err == "loupe: %s:3: expected an object with either \"text\" (a string) or \"ids\" (an array of token ids)\n" % bad,
      "--strict: %r" % err)
print("lens --batch: ok")
PY
