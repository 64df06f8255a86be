#!/usr/bin/env bash
# Installs the Debian 12 packages loupe builds and tests with, if any is missing.
set -euo pipefail
# Plots: libcairo2-dev and libpango1.0-dev draw the PNGs (cairo, pangocairo);
# fonts-dejavu-core is their default font, fonts-noto-cjk (about 90 MB) and
# fonts-noto-color-emoji let fontconfig fall back to CJK and emoji glyphs;
# chromium (with nodejs to drive it) runs the HTML report's test headless;
# npm (Debian's, unless the installed nodejs brings its own) installs the
# Hugging Face tokenizers library for the tokenizer reference test;
# libpcre2-dev compiles tokenizer.json's patterns; libzip-dev reads published tuned lenses (params.pt); python3-torch and
# python3-numpy run the model families' PyTorch reference; python3-cffi,
# -numpy, -pip, -setuptools and -wheel install and run the Python package
# (python/), python3-pytest, jupyter-nbconvert and python3-ipykernel its
# tests and notebook, python3-matplotlib and python3-tqdm the notebook's
# plot and progress bar; libflint-arb-dev (Arb, ball arithmetic at any
# precision) is the oracle of the certified forward pass's tests; libopenmpi-dev
# and openmpi-bin (Open MPI, its mpirun) build and test loupe-mpi, the corpus
# run shared among MPI ranks (docs/SCALE.md).
packages=(build-essential chromium cmake fonts-dejavu-core fonts-noto-cjk fonts-noto-color-emoji libcairo2-dev
          libcjson-dev libflint-arb-dev libopenblas-dev libopenmpi-dev libpango1.0-dev libpcre2-dev libutf8proc-dev libzip-dev nodejs
          openmpi-bin pkg-config python3
          python3-numpy python3-torch time
          jupyter-nbconvert python3-cffi python3-ipykernel python3-matplotlib python3-pip python3-pytest
          python3-setuptools python3-tqdm python3-wheel)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
command -v npm >/dev/null || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -q
"${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
