#!/usr/bin/env bash
# Bench-only dependencies (not needed to build or test loupe): Debian's
# PyTorch, for the baseline in bench/lens_vs_torch.sh, and the pthread
# OpenBLAS as the system BLAS that it and loupe both use. Run as root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends python3-torch python3-numpy libopenblas0-pthread time xz-utils
