#!/usr/bin/env bash
# loupe corpus --track: every per-layer statistic of each tracked token (its
# rank's mean and exact quantiles, its mean probability, how often it is the
# layer's top-1) against a direct computation from `loupe lens --track
# --format json` of each document of the first two of the corpus fixture;
# the table names the tokens; a text that is not one token is refused.
set -euo pipefail
LOUPE=${1:?usage: corpus_track.sh path/to/loupe}
export PYTHONPATH="$(cd "$(dirname "$0")/../data" && pwd)"
python3 - "$LOUPE" "$(cd "$(dirname "$0")/../data" && pwd)" <<'PY'
import math
import os
import sys
import tempfile
from lens_reference import check, run, run_json

loupe, data = sys.argv[1], sys.argv[2]
SEP = "<|endoftext|>"
documents = [d for d in open(os.path.join(data, "corpus_small.txt"), encoding="utf-8").read().split(SEP) if d.strip()][:2]
corpus = os.path.join(tempfile.mkdtemp(), "corpus.txt")
open(corpus, "w", encoding="utf-8").write(SEP.join(documents))
track = ["--track", " the", "--track", "13"]
lenses = [run_json(loupe, "lens", "--format", "json", "--topk", "1", *track, d) for d in documents]
positions = [(lens, t) for lens in lenses for t in range(len(lens["tokens"]) - 1)]
ids = lenses[0]["options"]["track"]
R = len(lenses[0]["layers"])

def lower(values, q):
    s = sorted(values)
    return s[int(math.floor(q * (len(s) - 1)))]

def close(a, b, tol=1e-6):
    return abs(a - b) <= tol * max(1.0, abs(b))

out = run_json(loupe, "corpus", "--format", "json", "--separator", SEP, *track, corpus)
check([entry["id"] for entry in out["tracked"]] == ids, "tracked ids %r vs %r" % (out["tracked"], ids))
check(out["tracked"][0]["text"] == " the", "tracked text %r" % out["tracked"][0]["text"])
for k, entry in enumerate(out["tracked"]):
    for row in range(R):
        for name in ("rank", "prob"):
            values = [lens["cells"][row][t]["tracked"][k][name] for lens, t in positions]
            got = entry[name][row]
            where = "tracked %d %s row %d" % (k, name, row)
            check(got["count"] == len(values) and got["exact"] is True, where + ": count/exact")
            check(close(got["mean"], sum(values) / len(values)), "%s: mean %r vs %r" % (where, got["mean"], sum(values) / len(values)))
            for key, q in (("p10", 0.1), ("median", 0.5), ("p90", 0.9)):
                check(close(got[key], lower(values, q)), "%s: %s %r vs %r" % (where, key, got[key], lower(values, q)))
        top1 = sum(lens["cells"][row][t]["tracked"][k]["rank"] == 1 for lens, t in positions) / len(positions)
        check(close(entry["top1"][row], top1, 1e-8), "tracked %d top1 row %d: %r vs %r" % (k, row, entry["top1"][row], top1))
check(any(x > 0 for x in out["tracked"][0]["top1"]), "' the' is never a top-1: the test checks little")
table, _, _ = run(loupe, "corpus", "--separator", SEP, *track, corpus)
check("tracked token 1: \u2423the (id %d)" % ids[0] in table and "tracked token 2: . (id 13)" in table,
      "the table does not name the tracked tokens")
_, err, status = run(loupe, "corpus", "--track", " Paris Hilton", corpus, expect=None)
check(status == 2 and "is 2 tokens, not one" in err, "corpus --track of two tokens: %d %s" % (status, err))
os.remove(corpus)
os.rmdir(os.path.dirname(corpus))
print("corpus --track: %d positions, %d layers, 2 tokens" % (len(positions), R))
PY
