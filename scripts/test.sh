#!/usr/bin/env bash
# Builds loupe (if needed) and runs every test.
#   LOUPE_BUILD_DIR    build folder (default: build)
#   LOUPE_CMAKE_FLAGS  extra CMake flags, e.g. -DLOUPE_SANITIZE=ON -DLOUPE_WERROR=ON
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${LOUPE_BUILD_DIR:-build}
cmake -B "$build_dir" -DCMAKE_BUILD_TYPE=${LOUPE_BUILD_TYPE:-Release} ${LOUPE_CMAKE_FLAGS:-} >/dev/null
cmake --build "$build_dir" -j"$(nproc)"
ctest --test-dir "$build_dir" --output-on-failure -j"$(nproc)"
