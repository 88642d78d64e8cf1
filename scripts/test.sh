#!/usr/bin/env bash
# The tests on a fresh machine: installs the pinned CUDA compiler toolchain, then runs the
# whole workspace's tests. Tests that need nvcc/cuobjdump run for real (a missing toolchain
# fails them instead of skipping); tests that need a GPU run only where one is present.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/install-cuda-toolchain.sh
export CUDADENT_REQUIRE_TOOLCHAIN=1
cargo test --workspace "$@"
