#!/usr/bin/env bash
# Builds loupe (if needed) and runs the tests.
#   scripts/test.sh           every test (what CI runs)
#   scripts/test.sh --quick   every test but those labelled slow (valgrind)
#   LOUPE_BUILD_DIR    build folder (default: build)
#   LOUPE_CMAKE_FLAGS  extra CMake flags, e.g. -DLOUPE_SANITIZE=ON -DLOUPE_WERROR=ON
set -euo pipefail
cd "$(dirname "$0")/.."
ctest_filter=()
case "${1:-}" in
  "") ;;
  --quick) ctest_filter=(-LE slow) ;;
  *) echo "usage: scripts/test.sh [--quick]" >&2; exit 2 ;;
esac
build_dir=${LOUPE_BUILD_DIR:-build}
cmake -B "$build_dir" -DCMAKE_BUILD_TYPE=${LOUPE_BUILD_TYPE:-Release} ${LOUPE_CMAKE_FLAGS:-} >/dev/null
cmake --build "$build_dir" -j"$(nproc)"
ctest --test-dir "$build_dir" --output-on-failure -j"$(nproc)" "${ctest_filter[@]}"
