#!/usr/bin/env bash
# Installs the build into a temporary prefix and uses it as a new user would:
# the README's C example (taken from README.md's first ```c block, so the two
# cannot drift) compiled with `cc example.c $(pkg-config --cflags --libs
# loupe)` against libloupe.so and again against libloupe.a (pkg-config
# --static), and a CMake project that calls find_package(loupe). Each
# program's printed row names, top-1 ids, probabilities and KLs must match
# what the installed `loupe lens --format json` gives for the same text, and
# the installed loupe must find the demo model under the prefix by itself.
# LOUPE_EXAMPLE_CFLAGS adds compiler flags (the sanitizers of the build).
set -euo pipefail
CMAKE=${1:?usage: install.sh cmake build-dir source-dir}
BUILD=${2:?usage: install.sh cmake build-dir source-dir}
SOURCE=${3:?usage: install.sh cmake build-dir source-dir}
command -v pkg-config >/dev/null || { echo "skip: pkg-config not found" >&2; exit 77; }
read -r -a extra_flags <<< "${LOUPE_EXAMPLE_CFLAGS:-}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"
"$CMAKE" --install "$BUILD" --prefix "$prefix" > "$work/install.log" \
    || { cat "$work/install.log" >&2; echo "FAIL: cmake --install" >&2; exit 1; }
libdir=$(dirname "$(find "$prefix" -name loupe.pc -path '*/pkgconfig/*')")/..
for file in include/loupe.h bin/loupe share/loupe/models/gpt2-demo/config.json; do
    [ -e "$prefix/$file" ] || { echo "FAIL: $file not installed" >&2; exit 1; }
done
soname=$(readelf -d "$libdir/libloupe.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libloupe.so.0 ] || { echo "FAIL: libloupe.so has SONAME '$soname', not libloupe.so.0" >&2; exit 1; }
[ -f "$libdir/libloupe.a" ] || { echo "FAIL: libloupe.a not installed" >&2; exit 1; }

# The installed command finds its demo model under the prefix, not in the tree.
model=$(env -u LOUPE_MODEL "$prefix/bin/loupe" info --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["directory"])')
case "$(realpath "$model")" in
    "$(realpath "$prefix")"/share/loupe/models/gpt2-demo) ;;
    *) echo "FAIL: the installed loupe uses $model, not the model under $prefix" >&2; exit 1 ;;
esac

python3 - "$SOURCE/README.md" "$work/example.c" <<'PY'
import re, sys
blocks = re.findall(r"^```c\n(.*?)^```", open(sys.argv[1], encoding="utf-8").read(), re.S | re.M)
if not blocks:
    sys.exit("FAIL: README.md has no ```c block")
open(sys.argv[2], "w").write(blocks[0])
PY

export PKG_CONFIG_PATH="$libdir/pkgconfig"
cd "$work"
# shellcheck disable=SC2046  # pkg-config's output is meant to split into words
cc "${extra_flags[@]}" example.c $(pkg-config --cflags --libs loupe) -o example_shared
# shellcheck disable=SC2046
cc "${extra_flags[@]}" example.c $(pkg-config --cflags loupe) \
    $(pkg-config --static --libs loupe | sed 's/-lloupe\b/-l:libloupe.a/') -o example_static
readelf -d example_shared | grep -q 'NEEDED.*libloupe\.so\.0' \
    || { echo "FAIL: example_shared does not link libloupe.so" >&2; exit 1; }
if readelf -d example_static | grep -q 'NEEDED.*libloupe'; then
    echo "FAIL: example_static still needs libloupe.so" >&2; exit 1
fi

"$CMAKE" -S "$SOURCE/tests/library/consumer" -B consumer -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_BUILD_TYPE=Release "-DCMAKE_C_FLAGS=${LOUPE_EXAMPLE_CFLAGS:-}" \
    -DLOUPE_EXAMPLE_SOURCE="$work/example.c" > consumer.log 2>&1 \
    && "$CMAKE" --build consumer >> consumer.log 2>&1 \
    || { cat consumer.log >&2; echo "FAIL: the find_package(loupe) project does not build" >&2; exit 1; }

text="In the beginning"
env -u LOUPE_MODEL "$prefix/bin/loupe" lens --format json --topk 1 "$text" > lens.json
model_dir="$prefix/share/loupe/models/gpt2-demo"
LD_LIBRARY_PATH="$libdir" ./example_shared "$model_dir" > shared.txt
./example_static "$model_dir" > static.txt
./consumer/example "$model_dir" > consumer.txt
./consumer/example_static "$model_dir" > consumer_static.txt
# The example runs from a folder where its default path resolves, too.
mkdir -p tree/models && ln -s "$model_dir" tree/models/gpt2-demo
(cd tree && LD_LIBRARY_PATH="$libdir" ../example_shared) > default.txt

python3 - lens.json shared.txt static.txt consumer.txt consumer_static.txt default.txt <<'PY'
import json, re, sys
lens = json.load(open(sys.argv[1]))
last = len(lens["tokens"]) - 1
expected = [(name, row[last]["top"][0][0], row[last]["top"][0][1], row[last]["kl_final"])
            for name, row in zip(lens["layers"], lens["cells"])]
line = re.compile(r"^(\S+) +top-1 (\d+)  p=([0-9.]+)  KL\(final\|\|row\)=([0-9.]+)$")
for path in sys.argv[2:]:
    rows = [line.match(text) for text in open(path).read().splitlines()]
    if len(rows) != len(expected) or not all(rows):
        sys.exit(f"FAIL: {path}: {len(rows)} lines not in the README's format, {len(expected)} rows expected")
    for match, (name, top, prob, kl) in zip(rows, expected):
        got = (match[1], int(match[2]), float(match[3]), float(match[4]))
        if got[0] != name or got[1] != top or abs(got[2] - prob) > 6e-4 or abs(got[3] - kl) > 6e-4:
            sys.exit(f"FAIL: {path}: {match[0]!r}; loupe lens gives {name} {top} p={prob:.4f} KL={kl:.4f}")
print(f"ok: the installed library's example (shared, static, find_package) prints the {len(expected)} rows of loupe lens")
PY
