#!/usr/bin/env bash
# loupe corpus --shard I/N --save-state and loupe corpus-merge: for N = 1, 2,
# 3 and 7 shards, merged in several orders (every order for N <= 3), the
# merged report equals the report of one process over the whole corpus:
# counts, histograms, fractions and quantiles exactly (an exact limit below
# the corpus but above a shard's share, so shards kept values exactly and
# the merge turns them into the sketch), means to 1e-8 relative (the JSON's
# nine digits), Spearman's rho to the same. The shards deal the documents by
# index modulo N (their document counts are checked against that rule);
# states of other options, other models, the same shard twice, other shard
# counts, and damaged files are refused naming both files and the
# difference; the merged --plot figures are the single run's byte for byte.
# The tiny test model with a byte-level tokenizer keeps it fast.
set -uo pipefail
loupe=$1
export OMP_NUM_THREADS=1 # a small model: one thread each, the runs stay fast on a loaded machine
here=$(cd "$(dirname "$0")" && pwd)
# under ASan: fontconfig's process-wide caches (used by --plot) are not leaks of ours
export LSAN_OPTIONS="suppressions=$here/plot_lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
data=${LOUPE_TEST_DATA:-$here/../data}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$data/byte_model.py" "$work/model" || exit 1
python3 "$data/word_corpus.py" "$work/corpus.txt" 5 15 2 16 || exit 1
model=$work/model
"$loupe" count --model "$model" "$work/corpus.txt" >"$work/counts.tsv" || exit 1
options=(--model "$model" --counts "$work/counts.tsv" --track e --exact-limit 300)
"$loupe" corpus "${options[@]}" --format json --plot "$work/single.svg" "$work/corpus.txt" >"$work/single.json" || exit 1
for n in 1 2 3 7; do
  for ((i = 0; i < n; i++)); do
    "$loupe" corpus "${options[@]}" --shard "$i/$n" --save-state "$work/s$i-$n.state" --format json \
      "$work/corpus.txt" >"$work/shard$i-$n.json" || exit 1
  done
done
python3 - "$loupe" "$work" "$data" <<'PY'
import itertools, json, os, random, subprocess, sys
sys.path.insert(0, sys.argv[3])
import corpus_compare
loupe, work = sys.argv[1], sys.argv[2]
failures = 0
def fail(message):
    global failures
    failures += 1
    print("FAILED: " + message)

single = json.load(open(os.path.join(work, "single.json")))
n_docs = single["corpus"]["documents"]
if not (single["corpus"]["positions"] > 300 and single["metrics"]["target_rank"][0]["exact"] is False):
    fail("the corpus should outgrow the exact limit: %r" % single["corpus"])

def compare(got, want):
    corpus_compare.compare(got, want, fail)

def merge(paths, *extra):
    return subprocess.run([loupe, "corpus-merge", *extra] + paths, capture_output=True, text=True)

rng = random.Random(7)
for n in (1, 2, 3, 7):
    states = [os.path.join(work, "s%d-%d.state" % (i, n)) for i in range(n)]
    # the dealing rule: document k (counted over all inputs) goes to shard k mod n
    for i in range(n):
        shard = json.load(open(os.path.join(work, "shard%d-%d.json" % (i, n))))
        expected = len(range(i, n_docs, n))
        if shard["corpus"]["documents"] != expected:
            fail("shard %d/%d scored %d documents, not %d" % (i, n, shard["corpus"]["documents"], expected))
    orders = list(itertools.permutations(range(n))) if n <= 3 else \
        [list(range(n)), list(reversed(range(n)))] + [rng.sample(range(n), n) for _ in range(3)]
    for order in orders:
        result = merge([states[i] for i in order], "--format", "json")
        if result.returncode != 0 or result.stderr:
            fail("merge %r of %d: status %d, %s" % (order, n, result.returncode, result.stderr.strip()))
            continue
        before = failures
        compare(json.loads(result.stdout), single)
        if failures > before:
            print("  (in the merge of shards %r of %d)" % (list(order), n))
    # a tree: pairs merged into states, then those merged
    if n == 7:
        halves = [os.path.join(work, "h%d.state" % h) for h in range(2)]
        ok = merge(states[:3], "--save-state", halves[0]).returncode == 0 and \
            merge(states[3:], "--save-state", halves[1]).returncode == 0
        result = merge(halves, "--format", "json")
        if not ok or result.returncode != 0:
            fail("the tree merge failed: %s" % result.stderr.strip())
        else:
            compare(json.loads(result.stdout), single)
    # the figures are the single run's, byte for byte (and the rarity chart)
    if n == 3:
        merged_svg = os.path.join(work, "merged.svg")
        result = merge(states, "--plot", merged_svg)
        for suffix in ("", "-rarity"):
            a, b = (os.path.join(work, name + suffix + ".svg") for name in ("single", "merged"))
            if result.returncode != 0 or open(a, "rb").read() != open(b, "rb").read():
                fail("corpus-merge --plot: %s differs from the single run's (%s)" % (b, result.stderr.strip()))
    # the table writer runs as well (the same writer as loupe corpus)
    table = merge(states)
    if table.returncode != 0 or "quantiles" not in table.stdout:
        fail("corpus-merge table: %s" % table.stderr.strip())

# refusals: each names both files and what differs
s = lambda i, n: os.path.join(work, "s%d-%d.state" % (i, n))
def refused(paths, *words):
    result = merge(paths)
    message = result.stderr.strip()
    if result.returncode != 1 or not message.startswith("loupe: ") or message.count("\n") != 0 or \
            not all(w in message for w in words):
        fail("merging %r: status %d, %r (expected %r)" % (paths, result.returncode, message, words))

refused([s(0, 2), s(0, 2)], s(0, 2), "overlap", "shard 0 of 2")
refused([s(0, 2), s(1, 3)], s(0, 2), s(1, 3), "2 vs 3 shards")
other = os.path.join(work, "other.state")
subprocess.run([loupe, "corpus", "--model", os.path.join(work, "model"), "--counts", os.path.join(work, "counts.tsv"),
                "--track", "e", "--exact-limit", "301", "--shard", "1/2", "--save-state", other,
                os.path.join(work, "corpus.txt")], capture_output=True, check=True)
refused([s(0, 2), other], s(0, 2), other, "stats.exact_limit differs: '300' vs '301'")
damaged = os.path.join(work, "damaged.state")
raw = bytearray(open(s(1, 2), "rb").read())
raw[len(raw) // 2] ^= 1
open(damaged, "wb").write(bytes(raw))
refused([s(0, 2), damaged], damaged, "checksum mismatch")
sys.exit(1 if failures else 0)
PY
status=$?
[ "$status" -eq 0 ] && echo "corpus shards: merged reports equal the single report"
exit "$status"
