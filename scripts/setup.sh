#!/usr/bin/env bash
# Installs what is missing, builds loupe, and runs it on the embedded model.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
build_dir=${LOUPE_BUILD_DIR:-build}
cmake -B "$build_dir" -DCMAKE_BUILD_TYPE=Release ${LOUPE_CMAKE_FLAGS:-} >/dev/null
cmake --build "$build_dir" -j"$(nproc)"
"$build_dir"/loupe info
"$build_dir"/loupe next --topk 5 "And God said, Let there be"
"$build_dir"/loupe lens "And God said, Let there be light: and there was light."
# The Python package, for Debian's python3 (the one with python3-cffi and
# python3-numpy), into the user's site-packages; it records this build's
# libloupe.so. Offline: nothing is fetched, nothing compiled.
python=${LOUPE_PYTHON:-/usr/bin/python3}
LOUPE_LIBRARY="$PWD/$build_dir/libloupe.so" "$python" -m pip install --quiet --user --break-system-packages --root-user-action=ignore \
  --no-build-isolation --no-deps --no-index --force-reinstall ./python
"$python" -c "import loupe; print(loupe.Model().lens('And God said').kl_final.shape)"
