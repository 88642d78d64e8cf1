#!/usr/bin/env bash
# Prepares a GPU run from this (CPU) machine: release binaries into .device/bin and every
# config's kernels built into .cache/ with the pinned toolchain, so the GPU machine loads
# exactly the cubins that were inspected here (same bytes, same sha256).
# Then: device run with carry [".device", ".cache"] and command `scripts/device-run.sh STAGES`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/install-cuda-toolchain.sh
cargo build --release --workspace --bins
mkdir -p .device/bin
for b in target/release/*; do
  [ -f "$b" ] && [ -x "$b" ] && cp "$b" .device/bin/
done
for c in configs/*.toml; do target/release/cudadent --config "$c" build --quiet; done
du -sh .device .cache
