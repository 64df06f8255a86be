#!/usr/bin/env bash
# loupe corpus --checkpoint FILE --resume: a run killed with SIGKILL at ten
# random moments, resumed after each, ends with the report of a run never
# interrupted, every field equal but the time (the reservoir's sample and
# generator are restored too: a reservoir smaller than the corpus makes rho
# depend on them). Ctrl-C still reports the positions so far (partial, exit
# 130) and leaves a checkpoint the next run resumes from. A checkpoint of
# other options, or of another shard, is refused; a finished one reports
# again. The tiny test model with a byte-level tokenizer keeps it fast.
set -uo pipefail
loupe=$1
export OMP_NUM_THREADS=1 # a small model: one thread, the run's length stays predictable
here=$(cd "$(dirname "$0")" && pwd)
data=${LOUPE_TEST_DATA:-$here/../data}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$data/byte_model.py" "$work/model" || exit 1
python3 "$data/word_corpus.py" "$work/corpus.txt" 11 30 2 30 || exit 1
"$loupe" count --model "$work/model" "$work/corpus.txt" >"$work/counts.tsv" || exit 1
options=(--model "$work/model" --counts "$work/counts.tsv" --track e --exact-limit 1500 --reservoir 400
  --format json)
python3 - "$loupe" "$work" "${options[@]}" <<'PY'
import json, os, random, signal, subprocess, sys, time
loupe, work, options = sys.argv[1], sys.argv[2], sys.argv[3:]
corpus, checkpoint = os.path.join(work, "corpus.txt"), os.path.join(work, "run.checkpoint")
failures = 0
def fail(message):
    global failures
    failures += 1
    print("FAILED: " + message)

def same(got, want, path=""):
    """Every field equal but the time."""
    if isinstance(want, dict):
        if set(got) != set(want):
            return "%s: keys differ" % path
        for key in want:
            if path + "." + key != ".corpus.seconds":
                why = same(got[key], want[key], path + "." + key)
                if why:
                    return why
    elif isinstance(want, list):
        if len(got) != len(want):
            return "%s: lengths differ" % path
        for i, (g, w) in enumerate(zip(got, want)):
            why = same(g, w, "%s[%d]" % (path, i))
            if why:
                return why
    elif got != want:
        return "%s: %r vs %r" % (path, got, want)
    return None

# the uninterrupted run, and how long it takes (to kill the others inside it)
started = time.monotonic()
whole = json.loads(subprocess.run([loupe, "corpus", *options, corpus], capture_output=True, check=True).stdout)
length = time.monotonic() - started
if not (whole["corpus"]["positions"] > 1500 and whole["rarity"]["spearman_frequency_vs_input_rank"][1]["n"] == 400):
    fail("the corpus should outgrow the exact limit and the reservoir: %r" % whole["corpus"])
command = [loupe, "corpus", *options, "--checkpoint", checkpoint, "--checkpoint-every", "0.02", "--resume", corpus]
rng = random.Random(3)
kills = 0
for attempt in range(10):
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(rng.uniform(0.02, 0.08) * length) # ten of them stay well within one run's length
    run.send_signal(signal.SIGKILL)
    run.communicate()
    kills += run.returncode == -signal.SIGKILL
if kills < 3:
    fail("only %d of the 10 runs were still running when killed" % kills)
final = subprocess.run(command, capture_output=True, text=True)
if final.returncode != 0:
    fail("the last resumed run: status %d, %s" % (final.returncode, final.stderr.strip()))
else:
    why = same(json.loads(final.stdout), whole)
    if why:
        fail("after %d kills the resumed report differs: %s" % (kills, why))
# a finished checkpoint only reports again
again = subprocess.run(command, capture_output=True, text=True)
if again.returncode != 0 or same(json.loads(again.stdout), whole):
    fail("resuming a finished checkpoint: %s" % again.stderr.strip())

# Ctrl-C: a partial report, exit 130, and a checkpoint to go on from
os.remove(checkpoint)
run = subprocess.Popen(command[:-2] + [corpus], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
time.sleep(0.5 * length)
run.send_signal(signal.SIGINT)
out, err = run.communicate()
if run.returncode == 130:
    partial = json.loads(out)
    if partial["partial"] is not True or not 0 < partial["corpus"]["positions"] < whole["corpus"]["positions"]:
        fail("Ctrl-C: the report is not partial: %r" % partial["corpus"])
    if not os.path.exists(checkpoint):
        fail("Ctrl-C left no checkpoint")
    resumed = subprocess.run(command, capture_output=True, text=True)
    why = same(json.loads(resumed.stdout), whole) if resumed.returncode == 0 else resumed.stderr.strip()
    if why:
        fail("resumed after Ctrl-C: %s" % why)
else:
    fail("Ctrl-C: status %d (expected 130; the run may have ended first), %s" % (run.returncode, err.strip()))

# a checkpoint of other options, or of another shard, is refused
for extra, words in ((["--exact-limit", "1501"], "stats.exact_limit differs: '1500' vs '1501'"),
                     (["--shard", "1/2"], "a checkpoint of shard 0/1, not of this run's 1/2")):
    other = [loupe, "corpus", *options, *extra, "--checkpoint", checkpoint, "--resume", corpus]
    result = subprocess.run(other, capture_output=True, text=True)
    if result.returncode != 1 or words not in result.stderr or checkpoint not in result.stderr:
        fail("%r: status %d, %s" % (extra, result.returncode, result.stderr.strip()))
sys.exit(1 if failures else 0)
PY
status=$?
[ "$status" -eq 0 ] && echo "corpus resume: killed and resumed runs end with the uninterrupted report"
exit "$status"
