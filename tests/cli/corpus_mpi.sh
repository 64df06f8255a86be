#!/usr/bin/env bash
# loupe-mpi corpus under `mpirun --oversubscribe -np 3`: the report rank 0
# writes equals `loupe corpus` over the same inputs (every field, means to
# 1e-8 relative; an exact limit below the corpus, so the merge of the ranks'
# exact values into the sketch is exercised), and so does corpus-merge of
# its --save-state (the merged state); --checkpoint keeps one FILE.rankR per
# rank and --resume from them reports the same; a rank that fails (its
# checkpoint damaged) fails the run with its own message instead of hanging
# it; --shard is refused. Skips (77) where loupe-mpi or mpirun is missing.
set -uo pipefail
loupe=$1
loupe_mpi=$(dirname "$loupe")/loupe-mpi
command -v mpirun >/dev/null && [ -x "$loupe_mpi" ] || { echo "skip: no loupe-mpi or mpirun"; exit 77; }
export OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl=self,vader OMPI_MCA_rmaps_base_oversubscribe=1 # one machine: shared memory only
here=$(cd "$(dirname "$0")" && pwd)
# under ASan: Open MPI's and hwloc's process-wide allocations are not leaks of ours
# (full stacks: the unloaded plugins' frames end a fast unwind before MPI_Init)
export LSAN_OPTIONS="suppressions=$here/mpi_lsan.supp:fast_unwind_on_malloc=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
data=${LOUPE_TEST_DATA:-$here/../data}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$data/byte_model.py" "$work/model" || exit 1
python3 "$data/word_corpus.py" "$work/corpus.txt" 5 15 2 16 || exit 1
"$loupe" count --model "$work/model" "$work/corpus.txt" >"$work/counts.tsv" || exit 1
options=(--model "$work/model" --counts "$work/counts.tsv" --track e --exact-limit 300 --format json)
mpi=(timeout 60 mpirun --oversubscribe -np 3 "$loupe_mpi" corpus "${options[@]}")
"$loupe" corpus "${options[@]}" "$work/corpus.txt" >"$work/single.json" || exit 1
"${mpi[@]}" --save-state "$work/merged.state" --checkpoint "$work/ck" --checkpoint-every 0 "$work/corpus.txt" \
  >"$work/mpi.json" 2>"$work/mpi.err"
echo $? >"$work/mpi.status"
"$loupe" corpus-merge --format json "$work/merged.state" >"$work/merge.json" 2>&1
"${mpi[@]}" --checkpoint "$work/ck" --resume "$work/corpus.txt" >"$work/resumed.json" 2>"$work/resumed.err"
echo $? >"$work/resumed.status"
python3 - "$loupe" "$loupe_mpi" "$work" "$data" <<'PY'
import json, os, subprocess, sys
sys.path.insert(0, sys.argv[4])
import corpus_compare
loupe, loupe_mpi, work = sys.argv[1], sys.argv[2], sys.argv[3]
failures = 0
def fail(message):
    global failures
    failures += 1
    print("FAILED: " + message)
read = lambda name: open(os.path.join(work, name)).read()
single = json.loads(read("single.json"))
if not (single["corpus"]["positions"] > 300 and single["metrics"]["target_rank"][0]["exact"] is False):
    fail("the corpus should outgrow the exact limit: %r" % single["corpus"])
for name, status in (("mpi", "mpi.status"), ("merge", None), ("resumed", "resumed.status")):
    if status is not None and read(status).strip() != "0":
        fail("%s run: status %s, %s" % (name, read(status).strip(), read(name + ".err").strip()))
        continue
    before = failures
    try:
        corpus_compare.compare(json.loads(read(name + ".json")), single, fail)
    except ValueError as error:
        fail("%s: not JSON (%s): %r" % (name, error, read(name + ".json")[:200]))
    if failures > before:
        print("  (in the %s report)" % name)
for r in range(3):
    if not os.path.isfile(os.path.join(work, "ck.rank%d" % r)):
        fail("no checkpoint ck.rank%d" % r)
if os.path.exists(os.path.join(work, "ck")):
    fail("a checkpoint 'ck' beside the per-rank ones")

mpi = ["timeout", "60", "mpirun", "--oversubscribe", "-np", "3", loupe_mpi, "corpus", "--model",
       os.path.join(work, "model")]
corpus = os.path.join(work, "corpus.txt")
# rank 1 alone fails: its checkpoint is damaged
damaged = os.path.join(work, "ck.rank1")
raw = bytearray(open(damaged, "rb").read())
raw[len(raw) // 2] ^= 1
open(damaged, "wb").write(bytes(raw))
result = subprocess.run(mpi + ["--exact-limit", "300", "--counts", os.path.join(work, "counts.tsv"), "--track", "e",
                               "--checkpoint", os.path.join(work, "ck"), "--resume", corpus],
                        capture_output=True, text=True)
if result.returncode in (0, 124) or "loupe: " + damaged not in result.stderr or "checksum" not in result.stderr \
        or "rank 1 of 3 failed" not in result.stderr or result.stdout:
    fail("a failing rank: status %d, stdout %r, stderr %r" % (result.returncode, result.stdout[:200],
                                                              result.stderr))
result = subprocess.run(mpi + ["--shard", "0/2", corpus], capture_output=True, text=True)
if result.returncode != 2 or "--shard: loupe-mpi deals the shards itself" not in result.stderr:
    fail("--shard: status %d, %r" % (result.returncode, result.stderr))
sys.exit(1 if failures else 0)
PY
status=$?
[ "$status" -eq 0 ] && echo "corpus mpi: the 3 ranks' report equals the single report"
exit "$status"
