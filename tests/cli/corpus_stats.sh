#!/usr/bin/env bash
# loupe corpus and loupe count on a small corpus, checked against a direct
# computation from `loupe lens --format json` and `loupe tokenize --json` of
# each document (docs/CORPUS.md): every per-layer mean and exact quantile,
# the agreement fractions, the decision-layer histogram, the rarity buckets
# and Spearman's rho; the window options; malformed JSONL lines; Ctrl-C.
set -euo pipefail
LOUPE=${1:?usage: corpus_stats.sh path/to/loupe}
# under ASan: fontconfig's process-wide caches (used by --plot) are not leaks of ours
export LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")" && pwd)/plot_lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export PYTHONPATH="$(cd "$(dirname "$0")/../data" && pwd)"
python3 - "$LOUPE" "$(cd "$(dirname "$0")/../data" && pwd)" <<'PY'
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from lens_reference import check, run, run_json, target_cross_entropy

loupe, data = sys.argv[1], sys.argv[2]
corpus = os.path.join(data, "corpus_small.txt")
SEP = "<|endoftext|>"
documents = [d for d in open(corpus, encoding="utf-8").read().split(SEP) if d.strip()]
check(len(documents) == 4, "the fixture has %d documents" % len(documents))

METRICS = {"target_rank": ("target", "rank"), "target_prob": ("target", "prob"),
           "input_rank": ("input", "rank"), "input_prob": ("input", "prob"),
           "kl_final": "kl_final", "kl_final_rev": "kl_final_rev", "kl_first": "kl_first",
           "kl_first_rev": "kl_first_rev", "entropy": "entropy"}

def value(cell, how):
    return cell[how[0]][how[1]] if isinstance(how, tuple) else cell[how]

# every scored position: (lens of its document, position); the last token of a document predicts nothing
lenses = [run_json(loupe, "lens", "--format", "json", "--topk", "1", d) for d in documents]
positions = [(lens, t) for lens in lenses for t in range(len(lens["tokens"]) - 1)]
R = len(lenses[0]["layers"])

def lower(values, q):
    s = sorted(values)
    return s[int(math.floor(q * (len(s) - 1)))]

def close(a, b, tol=1e-6):
    return abs(a - b) <= tol * max(1.0, abs(b))

out = run_json(loupe, "corpus", "--format", "json", "--separator", SEP, corpus)
check(out["schema"] == "loupe.corpus/1" and out["partial"] is False, "schema/partial %r" % out.get("schema"))
check(out["corpus"]["documents"] == 4 and out["corpus"]["windows"] == 4, "corpus %r" % out["corpus"])
check(out["corpus"]["positions"] == len(positions), "positions %d vs %d" % (out["corpus"]["positions"], len(positions)))
check(out["layers"] == lenses[0]["layers"], "layers %r" % out["layers"])
check(out["options"]["context"] == 512 and out["options"]["stride"] == 256, "options %r" % out["options"])
for name, how in METRICS.items():
    for row in range(R):
        values = [value(lens["cells"][row][t], how) for lens, t in positions]
        got = out["metrics"][name][row]
        check(got["exact"] is True and got["count"] == len(values), "%s row %d count/exact" % (name, row))
        check(close(got["mean"], sum(values) / len(values)), "%s row %d mean %r vs %r" % (name, row, got["mean"], sum(values) / len(values)))
        for key, q in (("p10", 0.1), ("median", 0.5), ("p90", 0.9)):
            check(close(got[key], lower(values, q)), "%s row %d %s %r vs %r" % (name, row, key, got[key], lower(values, q)))
decisions = [0] * R
for row in range(R):
    final = sum(lens["cells"][row][t]["top"][0][0] == lens["cells"][R - 1][t]["top"][0][0] for lens, t in positions)
    target = sum(lens["cells"][row][t]["top"][0][0] == lens["tokens"][t + 1]["id"] for lens, t in positions)
    check(close(out["top1_is_final_top1"][row], final / len(positions), 1e-12), "top1 final row %d" % row)
    check(close(out["top1_is_target"][row], target / len(positions), 1e-12), "top1 target row %d" % row)
for lens, t in positions:
    top = [lens["cells"][row][t]["top"][0][0] for row in range(R)]
    decisions[min(l for l in range(R) if all(x == top[-1] for x in top[l:]))] += 1
check(out["decision_layer"] == decisions, "decisions %r vs %r" % (out["decision_layer"], decisions))
check(out["rarity"] is None, "rarity without --counts")

# the cross-entropy of the next token, and bits per byte over the bytes of the targets' text (docs/CORPUS.md)

def token_bytes(text):
    # a lens JSON token text is its bytes, each byte that is not UTF-8 written <0xNN>
    parts = text.split("<0x")
    return len(parts[0].encode("utf-8")) + sum(1 + len(p[3:].encode("utf-8")) for p in parts[1:])

target_bytes = sum(token_bytes(lens["tokens"][t + 1]["text"]) for lens, t in positions)
check(target_bytes == sum(len(d.encode("utf-8")) - token_bytes(lens["tokens"][0]["text"])
                          for d, lens in zip(documents, lenses)), "the targets' bytes are not the text's less the first tokens")
check(out["corpus"]["target_bytes"] == target_bytes, "target_bytes %r vs %d" % (out["corpus"].get("target_bytes"), target_bytes))
for row in range(R):
    values = [target_cross_entropy(lens["cells"][row][t]) for lens, t in positions]
    got = out["metrics"]["ce"][row]
    check(got["count"] == len(values) and got["exact"] is True, "ce row %d count" % row)
    mean = sum(values) / len(values)
    check(close(got["mean"], mean, 1e-5), "ce row %d mean %r vs %r" % (row, got["mean"], mean))
    for key, q in (("p10", 0.1), ("median", 0.5), ("p90", 0.9)):
        check(close(got[key], lower(values, q), 1e-5), "ce row %d %s %r vs %r" % (row, key, got[key], lower(values, q)))
    bpb = sum(values) / target_bytes / math.log(2)
    check(close(out["ce_bits_per_byte"][row], bpb, 1e-5), "bits/byte row %d %r vs %r" % (row, out["ce_bits_per_byte"][row], bpb))
check(out["metrics"]["ce"][R - 1]["mean"] < out["metrics"]["ce"][0]["mean"], "the model's CE is not below the input row's")
check("tracked" not in out, "tracked without --track")

# --max-tokens and --min-context
out = run_json(loupe, "corpus", "--format", "json", "--separator", SEP, "--max-tokens", "15", corpus)
check(out["corpus"]["positions"] == 15, "max-tokens: %d positions" % out["corpus"]["positions"])
check(out["metrics"]["entropy"][1]["mean"] is not None, "max-tokens entropy")
out = run_json(loupe, "corpus", "--format", "json", "--separator", SEP, "--min-context", "5", corpus)
expected = sum(max(0, len(lens["tokens"]) - 1 - 5) for lens in lenses)
check(out["corpus"]["positions"] == expected, "min-context: %d vs %d" % (out["corpus"]["positions"], expected))
run(loupe, "corpus", "--separator", SEP, "--min-context", "256", corpus, expect=2)
run(loupe, "corpus", "--separator", SEP, "--stride", "512", corpus, expect=2)

# a document longer than the context: windows of 512 every 256 tokens, every position but the last scored once
long_doc = " ".join(["And God said, Let there be light: and there was light."] * 50)
n_long = len(run_json(loupe, "tokenize", "--json", long_doc)["ids"])
check(n_long > 512, "the long document has only %d tokens" % n_long)
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "long.txt")
    with open(path, "w") as f:
        f.write(long_doc)
    out = run_json(loupe, "corpus", "--format", "json", "--plain", path)
    windows = 1 + math.ceil((n_long - 512) / 256)
    check(out["corpus"]["windows"] == windows and out["corpus"]["positions"] == n_long - 1,
          "long document: %r, expected %d windows and %d positions" % (out["corpus"], windows, n_long - 1))
    # progress: on request only (stderr is not a terminal here)
    _, err, _ = run(loupe, "corpus", "--max-tokens", "5", "--progress", "always", path)
    check("tokens/s" in err and "ETA" in err, "no progress line with --progress always: %r" % err)
    _, err, _ = run(loupe, "corpus", "--max-tokens", "5", path)
    check("tokens/s" not in err, "a progress line on a pipe: %r" % err)

# loupe count against loupe tokenize of each document
counts_text, _, _ = run(loupe, "count", "--separator", SEP, corpus)
lines = counts_text.splitlines()
check(lines[0].startswith("# loupe count:") and lines[1] == "id\ttoken\tcount", "count header %r" % lines[:2])
counts = {}
for line in lines[2:]:
    fields = line.split("\t")
    counts[int(fields[0])] = int(fields[-1])
expected = {}
for d in documents:
    for i in run_json(loupe, "tokenize", "--json", d)["ids"]:
        expected[i] = expected.get(i, 0) + 1
check(counts == expected, "count differs from tokenize")
order = [int(l.split("\t")[0]) for l in lines[2:]]
check(order == sorted(expected, key=lambda i: (-expected[i], i)), "count order")

# --counts: buckets and Spearman against a direct computation
with tempfile.TemporaryDirectory() as tmp:
    counts_path = os.path.join(tmp, "counts.tsv")
    with open(counts_path, "w") as f:
        f.write(counts_text)
    out = run_json(loupe, "corpus", "--format", "json", "--separator", SEP, "--counts", counts_path, corpus)
    rarity = out["rarity"]
    freq = [counts.get(lens["tokens"][t]["id"], 0) for lens, t in positions]
    edges = [0, 1]
    while edges[-1] <= max(counts.values()):
        edges.append(edges[-1] * 10)
    check([(b["low"], b["high"]) for b in rarity["buckets"]] == list(zip(edges[:-1], edges[1:])),
          "bucket edges %r" % [(b["low"], b["high"]) for b in rarity["buckets"]])
    for b, bucket in enumerate(rarity["buckets"]):
        members = [p for p, f in zip(positions, freq) if edges[b] <= f < edges[b + 1]]
        check(bucket["positions"] == len(members), "bucket %d positions" % b)
        for row in range(R):
            ranks = [lens["cells"][row][t]["input"]["rank"] for lens, t in members]
            got = bucket["input_rank"][row]
            if ranks:
                check(close(got["mean"], sum(ranks) / len(ranks)) and close(got["median"], lower(ranks, 0.5)),
                      "bucket %d row %d input rank" % (b, row))
    def midranks(values):
        return [sum(v < x for v in values) + (sum(v == x for v in values) + 1) / 2 for x in values]
    for row in range(R):
        ranks = [lens["cells"][row][t]["input"]["rank"] for lens, t in positions]
        rx, ry = midranks(freq), midranks(ranks)
        mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
        sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
        sxx, syy = sum((a - mx) ** 2 for a in rx), sum((b - my) ** 2 for b in ry)
        got = rarity["spearman_frequency_vs_input_rank"][row]
        check(got["n"] == len(positions), "spearman n")
        if sxx == 0 or syy == 0:
            check(got["rho"] is None, "row %d: constant ranks, rho %r" % (row, got["rho"]))
        else:
            rho = sxy / math.sqrt(sxx * syy)
            check(close(got["rho"], rho, 1e-9), "row %d rho %r vs %r" % (row, got["rho"], rho))
            half = 1.959963984540054 * math.sqrt(1.06 / (len(positions) - 3))
            check(close(got["low"], math.tanh(math.atanh(rho) - half), 1e-9), "row %d interval" % row)

    # --plot: the per-layer figure and the rarity chart, one line per non-empty bucket (counts spread
    # over five decades here so that there are several)
    spread_path = os.path.join(tmp, "spread.tsv")
    with open(spread_path, "w") as f:
        f.write("id\ttoken\tcount\n" + "".join("%d\tx\t%d\n" % (i, 10 ** (i % 5)) for i in counts))
    plot = os.path.join(tmp, "corpus.svg")
    out, _, _ = run(loupe, "corpus", "--format", "json", "--separator", SEP, "--counts", spread_path, "--plot", plot, corpus)
    buckets = json.loads(out)["rarity"]["buckets"]
    figure = open(plot, encoding="utf-8").read()
    rarity_figure = open(os.path.join(tmp, "corpus-rarity.svg"), encoding="utf-8").read()
    check("<svg" in figure and all(">%s<" % name in figure for name in lenses[0]["layers"]),
          "the figure lacks the layer labels")
    for label in ("KL(final || layer)", "entropy", "top-1 = final top-1", "10% .. 90%"):
        check(label in figure, "the figure lacks %r" % label)
    check(sum(b["positions"] > 0 for b in buckets) >= 3, "spread counts: buckets %r" % buckets)
    for b in buckets:
        label = "frequency [%.0f, %.0f): %d positions<" % (b["low"], b["high"], b["positions"])
        check((label in rarity_figure) == (b["positions"] > 0), "rarity chart and bucket %r" % label)

# malformed JSONL: warnings with line numbers, or an error with --strict
malformed = os.path.join(data, "corpus_malformed.jsonl")
out, err, _ = run(loupe, "corpus", "--format", "json", malformed)
doc = json.loads(out)
check(doc["corpus"]["documents"] == 2 and doc["corpus"]["skipped_lines"] == 3, "jsonl %r" % doc["corpus"])
warnings = [l for l in err.splitlines() if "warning" in l]
check(len(warnings) == 3 and all(":%d:" % n in w for n, w in zip((3, 4, 6), warnings)), "warnings %r" % warnings)
_, err, _ = run(loupe, "corpus", "--strict", malformed, expect=1)
check("corpus_malformed.jsonl:3:" in err, "strict error %r" % err)
_, err, _ = run(loupe, "count", "--strict", malformed, expect=1)
check("corpus_malformed.jsonl:3:" in err, "count strict error %r" % err)

# Ctrl-C: the aggregate so far, marked partial, exit 130
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "long.txt")
    with open(path, "w") as f:
        f.write(SEP.join(documents * 200))
    # interrupt once the first window is done (the progress line shows it), while more remain
    p = subprocess.Popen([loupe, "corpus", "--format", "json", "--progress", "always", "--separator", SEP, path],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.set_blocking(p.stderr.fileno(), False)
    seen, deadline = b"", time.time() + 120
    while b"tokens/s" not in seen and time.time() < deadline and p.poll() is None:
        time.sleep(0.05)
        seen += p.stderr.read() or b""
    p.send_signal(signal.SIGINT)
    os.set_blocking(p.stderr.fileno(), True)
    out, err = p.communicate(timeout=120)
    check(p.returncode == 130, "after Ctrl-C exit %d" % p.returncode)
    doc = json.loads(out)
    check(doc["partial"] is True and b"interrupted" in seen + err, "partial %r" % doc["partial"])
    total = sum(len(lens["tokens"]) - 1 for lens in lenses) * 200
    check(0 < doc["corpus"]["positions"] < total, "partial positions %d of %d" % (doc["corpus"]["positions"], total))
    check(sum(doc["decision_layer"]) == doc["corpus"]["positions"], "decisions of the partial run")
print("corpus_stats: ok")
PY
