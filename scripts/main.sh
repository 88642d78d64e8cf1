#!/usr/bin/env bash
# The main job on a fresh machine: installs the pinned CUDA compiler toolchain, builds the
# workspace, and runs `cudadent verify` (configs/canon_3.toml unless --config is given).
# On a machine without a GPU it builds and inspects, then says plainly that the GPU gates
# did not run (exit 3).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/install-cuda-toolchain.sh
cargo build --release --workspace --bins --quiet
exec target/release/cudadent "$@" verify
