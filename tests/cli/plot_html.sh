#!/usr/bin/env bash
# loupe lens --plot page.html, opened in headless Chromium and driven over the
# DevTools protocol (plot_html_devtools.js): no console errors, one cell per
# layer x position, focusing a cell shows its tooltip with the numbers of the
# lens JSON, arrow keys move between cells, the metric switches in the page,
# a grid wider than the window (a --window text) scrolls in its own box with
# the row names in view, the tracked tokens (--track) can be picked in the page with their values,
# and the page makes no network request. Skipped (exit 77) without chromium.
set -euo pipefail
LOUPE=${1:?usage: plot_html.sh path/to/loupe}
# under ASan: fontconfig's process-wide caches are not leaks of ours
export LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")" && pwd)/plot_lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
  echo "SKIP: $CHROMIUM is not installed (scripts/install-deps.sh installs it)"
  exit 77
fi
if ! command -v node > /dev/null; then
  echo "SKIP: node is not installed"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
text="And God said, Let there be light: and there was light."
"$LOUPE" lens --format json --topk 3 "$text" > "$work/lens.json"
"$LOUPE" lens --topk 3 --plot "$work/page.html" "$text"
# a window of a saved document, drawn by loupe plot
"$LOUPE" lens --format json --layers 1:5 --positions 2:9 "$text" > "$work/window.json"
"$LOUPE" plot --metric kl --top-down --plot "$work/window.html" "$work/window.json"
# a long text in windows (--window): wider than the browser's window, the grid scrolls in its box
long=$(for i in $(seq 12); do printf '%s ' "$text"; done)
"$LOUPE" lens --format json --topk 3 --window 64 --stride 32 "$long" > "$work/long.json"
"$LOUPE" lens --topk 3 --window 64 --stride 32 --plot "$work/long.html" "$long"
# tracked tokens: the page opens on --token track:2 and offers both
"$LOUPE" lens --format json --topk 3 --track " light" --track " the" "$text" > "$work/tracked.json"
"$LOUPE" lens --topk 3 --track " light" --track " the" --metric rank --token track:2 --plot "$work/tracked.html" "$text"
node "$(dirname "$0")/plot_html_devtools.js" "$CHROMIUM" "$work/page.html" "$work/lens.json" bottom-up
node "$(dirname "$0")/plot_html_devtools.js" "$CHROMIUM" "$work/window.html" "$work/window.json" top-down
node "$(dirname "$0")/plot_html_devtools.js" "$CHROMIUM" "$work/tracked.html" "$work/tracked.json" bottom-up track:2
node "$(dirname "$0")/plot_html_devtools.js" "$CHROMIUM" "$work/long.html" "$work/long.json" bottom-up
echo "plot_html: ok"
