#!/usr/bin/env bash
# libloupe.so exports exactly the functions include/loupe.h declares: every
# dynamic symbol it defines is one of them (so none without the loupe_
# prefix), and every declared function is there. The declarations come from
# the preprocessed header, the symbols from nm -D of the built library.
set -euo pipefail
LIBRARY=${1:?usage: exports.sh path/to/libloupe.so path/to/loupe.h}
HEADER=${2:?usage: exports.sh path/to/libloupe.so path/to/loupe.h}
command -v nm >/dev/null || { echo "skip: nm not found" >&2; exit 77; }

exported=$(nm -D --defined-only "$LIBRARY" | awk '{print $NF}' | sed 's/@.*//' | sort -u)
declared=$(cc -E -P -x c "$HEADER" | tr -s ' \n' ' ' | grep -oE '\bloupe_[a-z0-9_]+ *\( *[^* ]' \
           | sed 's/ *(.*//' | sort -u)
[ -n "$exported" ] || { echo "FAIL: $LIBRARY exports nothing" >&2; exit 1; }
[ -n "$declared" ] || { echo "FAIL: no function declarations found in $HEADER" >&2; exit 1; }

status=0
stray=$(comm -23 <(echo "$exported") <(echo "$declared"))
if [ -n "$stray" ]; then
    echo "FAIL: $LIBRARY exports symbols loupe.h does not declare:" >&2
    echo "$stray" | sed 's/^/  /' >&2
    status=1
fi
missing=$(comm -13 <(echo "$exported") <(echo "$declared"))
if [ -n "$missing" ]; then
    echo "FAIL: $LIBRARY does not export functions loupe.h declares:" >&2
    echo "$missing" | sed 's/^/  /' >&2
    status=1
fi
[ "$status" = 0 ] && echo "ok: $LIBRARY exports the $(echo "$exported" | wc -l) functions of loupe.h, nothing else"
exit "$status"
