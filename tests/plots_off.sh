#!/usr/bin/env bash
# A loupe built with -DLOUPE_PLOTS=OFF (no cairo, no pango): every way of
# asking for a PNG is refused on the command line, with status 2 and one
# line, before the model is opened (the model given does not exist, so a
# late refusal would be a model error instead); SVG and HTML still work, by
# the same tests as in a full build (cli/plot_svg.sh, cli/plot_html.sh; the
# page is checked where chromium is installed).
set -euo pipefail
LOUPE=${1:?usage: plots_off.sh path/to/loupe-built-with-LOUPE_PLOTS=OFF}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ldd "$LOUPE" | grep -E 'libcairo|libpango' >/dev/null; then
    echo "FAIL: $LOUPE links cairo or pango" >&2
    exit 1
fi
printf '{"schema": "loupe.lens/1"}\n' > "$work/lens.json"
printf 'In the beginning\n' > "$work/corpus.txt"
failures=0
refused() {
    local option=$1
    shift
    local status=0
    "$LOUPE" "$@" > "$work/out" 2> "$work/err" < /dev/null || status=$?
    local expected="loupe: $option: '$work/x.png': this loupe was built without PNG support (-DLOUPE_PLOTS=OFF); write .svg or .html"
    if [ "$status" -ne 2 ] || [ "$(cat "$work/err")" != "$expected" ] || [ -e "$work/x.png" ]; then
        echo "FAIL: $* -> status $status, stderr: $(head -3 "$work/err")" >&2
        failures=$((failures + 1))
    fi
}
refused --plot lens --model "$work/no-model" --plot "$work/x.png" "In the beginning"
refused --summary lens --model "$work/no-model" --summary "$work/x.png" "In the beginning"
refused --plot corpus --model "$work/no-model" --plot "$work/x.png" "$work/corpus.txt"
refused --plot plot --model "$work/no-model" --plot "$work/x.png" "$work/lens.json"
[ "$failures" -eq 0 ] || exit 1
echo "ok: PNG refused before the model runs"
bash "$here/cli/plot_svg.sh" "$LOUPE"
status=0
bash "$here/cli/plot_html.sh" "$LOUPE" || status=$?
# without chromium the page is not checked, and the rest still holds
[ "$status" -eq 0 ] || [ "$status" -eq 77 ] || exit "$status"
