#!/usr/bin/env bash
# loupe plot CORPUS.json redraws the figures of loupe corpus --plot from the
# saved loupe.corpus/1 document: the same bytes in SVG, HTML and PNG, the
# rarity chart included. And every command checks its output files before
# the model runs: a path in a folder that does not exist fails at once, with
# nothing printed or created, and a file the user had is left as it was.
set -uo pipefail
loupe=$1
here=$(cd "$(dirname "$0")" && pwd)
export LSAN_OPTIONS="suppressions=$here/plot_lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
data=${LOUPE_TEST_DATA:-$here/../data}
work=$(mktemp -d)
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
failures=0
fail() { echo "FAILED: $*"; failures=$((failures + 1)); }
corpus=$data/corpus_small.txt
sep='<|endoftext|>'

# ---------------------------------------------------------------- redrawn from the document
"$loupe" count --separator "$sep" "$corpus" >"$work/counts.tsv" || fail "loupe count"
for ext in svg html png; do
  "$loupe" corpus --format json --separator "$sep" --counts "$work/counts.tsv" --plot "$work/run.$ext" "$corpus" \
    >"$work/c.json" || fail "loupe corpus --plot run.$ext"
  "$loupe" plot --plot "$work/saved.$ext" "$work/c.json" || fail "loupe plot --plot saved.$ext"
  for figure in "" -rarity; do
    [ -s "$work/run$figure.$ext" ] || fail "run$figure.$ext was not drawn"
    cmp -s "$work/run$figure.$ext" "$work/saved$figure.$ext" || fail "saved$figure.$ext differs from run$figure.$ext"
  done
done
# without --counts: no rarity chart, and a run with sub-block rows and a limit
"$loupe" corpus --format json --separator "$sep" --subblocks --max-tokens 20 --plot "$work/sub_run.svg" "$corpus" \
  >"$work/sub.json" || fail "loupe corpus --subblocks"
"$loupe" plot --plot "$work/sub_saved.svg" "$work/sub.json" || fail "loupe plot of the --subblocks document"
cmp -s "$work/sub_run.svg" "$work/sub_saved.svg" || fail "the --subblocks figure differs when redrawn"
[ ! -e "$work/sub_saved-rarity.svg" ] || fail "a rarity chart without --counts"
grep -q "h3.attn" "$work/sub_saved.svg" || fail "the sub-block rows are not in the redrawn figure"
# a lens document still draws as a lens
"$loupe" lens --format json "hello world" >"$work/lens.json"
"$loupe" plot --plot "$work/lens.svg" "$work/lens.json" || fail "loupe plot of a lens document"
grep -q 'class="cell"' "$work/lens.svg" || fail "a lens document did not draw the heatmap"

# ---------------------------------------------------------------- outputs checked first
# expect_early STATUS MESSAGE CMD...: CMD fails with STATUS and the one line
# "loupe: MESSAGE" on stderr, prints nothing on stdout, creates no folder.
expect_early() {
  local status=$1 message=$2
  shift 2
  "$@" >"$work/out" 2>"$work/err"
  local got=$?
  [ "$got" -eq "$status" ] || fail "$* -> status $got, expected $status"
  [ "$(cat "$work/err")" = "loupe: $message" ] || fail "$*: stderr $(cat "$work/err")"
  [ ! -s "$work/out" ] || fail "$*: printed $(wc -c <"$work/out") bytes before failing"
  [ ! -e "$work/nodir" ] || fail "$*: created nodir"
}
missing="cannot create the file: No such file or directory"
expect_early 1 "$work/nodir/c.png: $missing" "$loupe" corpus --plot "$work/nodir/c.png" --separator "$sep" "$corpus"
expect_early 1 "$work/nodir/x.svg: $missing" "$loupe" lens --format json --plot "$work/nodir/x.svg" "hello world"
expect_early 1 "$work/nodir/s.svg: $missing" "$loupe" lens --format csv --summary "$work/nodir/s.svg" "hello world"
expect_early 1 "$work/nodir/x.svg: $missing" "$loupe" plot --plot "$work/nodir/x.svg" "$work/lens.json"
expect_early 1 "$work/nodir/x.svg: $missing" "$loupe" plot --plot "$work/nodir/x.svg" "$work/c.json"
mkdir "$work/folder.svg"
expect_early 1 "$work/folder.svg: cannot create the file: Is a directory" "$loupe" lens --plot "$work/folder.svg" x
# a file the user had is neither truncated nor replaced when another output fails the check
printf 'keep me' >"$work/kept.svg"
expect_early 1 "$work/nodir/s.svg: $missing" "$loupe" lens --plot "$work/kept.svg" --summary "$work/nodir/s.svg" x
[ "$(cat "$work/kept.svg")" = "keep me" ] || fail "kept.svg was overwritten by a run that failed its checks"
# the rarity chart's file is checked too (a folder that takes no new file; root may write anywhere)
if [ "$(id -u)" -ne 0 ]; then
  mkdir "$work/locked" && printf 'old' >"$work/locked/c.svg" && chmod a-w "$work/locked"
  expect_early 1 "$work/locked/c-rarity.svg: cannot create the file: Permission denied" \
    "$loupe" corpus --counts "$work/counts.tsv" --plot "$work/locked/c.svg" --separator "$sep" "$corpus"
  [ "$(cat "$work/locked/c.svg")" = "old" ] || fail "locked/c.svg was overwritten"
fi
# an existing writable file passes the check and is replaced by the picture
"$loupe" lens --plot "$work/kept.svg" x || fail "an existing file could not be replaced"
grep -q '<svg' "$work/kept.svg" || fail "kept.svg was not replaced by the picture"

[ "$failures" -eq 0 ] && echo "plot_corpus: ok"
exit "$failures"
