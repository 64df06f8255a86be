#!/usr/bin/env bash
# The progress line of loupe corpus (--progress always, so without a
# terminal): the percent follows the work (one long document is not 100 %
# once it has been read), the ETA follows the percent shown (elapsed x
# (1 - done) / done, the elapsed time being tokens / (tokens/s) of the same
# line), and "1 document" is singular. The tiny test model with a byte-level
# tokenizer keeps the many windows fast.
set -uo pipefail
loupe=$1
here=$(cd "$(dirname "$0")" && pwd)
data=${LOUPE_TEST_DATA:-$here/../data}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bash "$data/byte_model.sh" "$data" "$work/model"
# one document of 1200 byte tokens: 1199 scored positions, windows of the
# 64-token context
python3 -c 'print("abcdefghijkl" * 100)' >"$work/one.txt"
python3 -c 'print("abcdefghijkl" * 50 + "\n\n" + "mnopqrstuvwx" * 50)' >"$work/two.txt"
"$loupe" corpus --model "$work/model" --progress always "$work/one.txt" >/dev/null 2>"$work/one.err" || exit 1
"$loupe" corpus --model "$work/model" --progress always "$work/two.txt" >/dev/null 2>"$work/two.err" || exit 1
python3 - "$work/one.err" "$work/two.err" <<'PY'
import re, sys
LINE = re.compile(r"\[[#.]{24}\] +(\d+)%  (\d+) (documents?)  (\d+) tokens  (\d+) tokens/s  ETA (\S+)$")
failures = 0
def fail(message):
    global failures
    failures += 1
    print("FAILED: " + message)

def seconds(text):
    m = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text)
    h, mi, s = (int(g) if g else 0 for g in m.groups())
    return 3600 * h + 60 * mi + s

def lines(path):
    raw = open(path, encoding="utf-8", newline="").read()
    shown = [part.replace("\033[K", "") for part in raw.split("\r")]
    parsed = []
    for text in shown:
        if not text:
            continue
        m = LINE.fullmatch(text)
        if m is None:
            fail("%s: not a progress line: %r" % (path, text))
            continue
        parsed.append((int(m[1]), int(m[2]), m[3], int(m[4]), int(m[5]), m[6]))
    return parsed

one = lines(sys.argv[1])
if len(one) < 2:
    fail("one long document drew %d progress lines" % len(one))
N = 1200 # tokens of the document
for percent, documents, word, tokens, rate, eta in one:
    if (documents, word) != (1, "document"):
        fail("one document shown as %d %s" % (documents, word))
    # the percent follows the scored positions of the one document
    if abs(percent - 100.0 * tokens / N) > 1.5:
        fail("%d%% shown after %d of %d tokens" % (percent, tokens, N))
    # the ETA follows the percent shown, within the rounding of the three numbers
    if 0 < percent < 100 and rate > 0 and eta != "?":
        elapsed_low, elapsed_high = tokens / (rate + 0.5), tokens / max(rate - 0.5, 0.5)
        low = elapsed_low * (1 - (percent + 0.5) / 100) / ((percent + 0.5) / 100) - 0.5
        high = elapsed_high * (1 - (percent - 0.5) / 100) / ((percent - 0.5) / 100) + 0.5
        if not low - 1e-9 <= seconds(eta) <= high + 1e-9:
            fail("ETA %s at %d%% after %d tokens at %d tokens/s (expected %.1f .. %.1f s)" %
                 (eta, percent, tokens, rate, low, high))
if one and one[-1][0] != 100:
    fail("the last line shows %d%%" % one[-1][0])

two = lines(sys.argv[2])
words = {(documents, word) for _, documents, word, _, _, _ in two}
if not words <= {(1, "document"), (2, "documents")} or (2, "documents") not in words:
    fail("two documents shown as %r" % sorted(words))
if failures == 0:
    print("corpus progress: %d + %d lines ok" % (len(one), len(two)))
sys.exit(failures)
PY
