#!/usr/bin/env bash
# A picture that cannot be written completely leaves what the path held:
# under a file-size limit the SVG write fails (EFBIG), the command reports it
# with status 1, the old file keeps its bytes and no temporary file remains.
# A write that succeeds replaces the file and keeps its permissions; a new
# file gets those fopen would give (0666 less the umask).
set -uo pipefail
loupe=$1
# fontconfig's caches, kept until exit, are not loupe's leaks (sanitizer builds)
export LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")" && pwd)/plot_lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAILED: $*"; failures=$((failures + 1)); }

printf 'the figure the user had\n' >"$work/lens.svg"
cp "$work/lens.svg" "$work/before.svg"
# SIGXFSZ ignored (inherited through exec), so the write returns EFBIG instead of killing loupe
(trap '' XFSZ; ulimit -f 4; exec "$loupe" lens --plot "$work/lens.svg" "In the beginning" >/dev/null 2>"$work/err")
status=$?
[ "$status" -eq 1 ] || fail "a failed write exits $status, expected 1 ($(cat "$work/err"))"
grep -q "^loupe: $work/lens.svg: writing the " "$work/err" || fail "the error does not name the file: $(cat "$work/err")"
cmp -s "$work/lens.svg" "$work/before.svg" || fail "the failed write changed the existing file"
leftovers=$(find "$work" -name 'lens.svg.tmp-*' | wc -l)
[ "$leftovers" -eq 0 ] || fail "$leftovers temporary files left behind"

chmod 600 "$work/lens.svg"
"$loupe" lens --plot "$work/lens.svg" "In the beginning" >/dev/null 2>"$work/err" ||
  fail "the write failed: $(cat "$work/err")"
head -c 5 "$work/lens.svg" | grep -q "<?xml\|<svg" || fail "the file was not replaced by the SVG"
mode=$(stat -c %a "$work/lens.svg")
[ "$mode" = 600 ] || fail "the replaced file has mode $mode, expected its own 600"
(umask 027; "$loupe" lens --plot "$work/new.svg" "In the beginning" >/dev/null 2>"$work/err") ||
  fail "the write failed: $(cat "$work/err")"
mode=$(stat -c %a "$work/new.svg")
[ "$mode" = 640 ] || fail "a new file has mode $mode after umask 027, expected 640"
[ "$(find "$work" -name 'lens.svg.tmp-*' | wc -l)" -eq 0 ] || fail "a temporary file left after success"

[ "$failures" -eq 0 ] && echo "plot_write_safely: ok"
exit "$failures"
