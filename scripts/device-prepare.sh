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
# Provenance for the copy of the tree that travels without .git.
echo "$(git rev-parse HEAD) $([ -n "$(git status --porcelain --untracked-files=no)" ] && echo true || echo false)" > .device/provenance
du -sh .device .cache
