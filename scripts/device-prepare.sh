#!/usr/bin/env bash
# Prepares a GPU run from this (CPU) machine: release binaries into .device/bin and every
# config's kernels built into .cache/ with the pinned toolchain, so the GPU machine loads
# exactly the cubins that were inspected here (same bytes, same sha256).
# Then: device run with carry [".device"] and command `scripts/device-run.sh STAGES`
# (device-run.sh copies .device/cache into .cache there).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/install-cuda-toolchain.sh
cargo build --release --workspace --bins
mkdir -p .device/bin
for b in target/release/*; do
  [ -f "$b" ] && [ -x "$b" ] && cp "$b" .device/bin/
done
strip .device/bin/* 2>/dev/null || true
# Build every config's kernels into an empty cache, so that exactly the cubins the configs
# use travel (the working cache may also hold builds of edited copies, from tests).
fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT
for c in configs/*.toml; do CUDADENT_CACHE_DIR=$fresh target/release/cudadent --config "$c" build --quiet; done
CUDADENT_CACHE_DIR=$fresh target/release/cudadent build --quiet --kernel kernels/selftest/hardening/traps.toml
# The TMA prototype's configs (stage `tma`), the hot-length configs (stage `hotn`), stage
# `power`'s and the racecheck probe's (stage `tmaprobe`); not evidence, not in configs/.
for c in kernels/attention/variants/wgmma/{tma,hot,power}_canon_*.toml kernels/selftest/probes/*_canon_*.toml; do CUDADENT_CACHE_DIR=$fresh target/release/cudadent --config "$c" build --quiet; done
# fa_tc's v18 body and the v19 body (fa_tc ships v20) (stage `icache` sets them against fa_tc).
CUDADENT_CACHE_DIR=$fresh target/release/cudadent --config configs/canon_3.toml build --quiet --kernel kernels/attention/variants/fa_tc_v18.toml --kernel kernels/attention/variants/fa_tc_v19.toml
# Only the H100's cubins (sm_90, sm_90a) travel: the carry limit is 64 MiB in all.
rm -rf .device/cache
for d in "$fresh"/*/sm_90-* "$fresh"/*/sm_90a-*; do
  [ -d "$d" ] || continue
  mkdir -p ".device/cache/cudadent/build/$(basename "$(dirname "$d")")"
  cp -r "$d" ".device/cache/cudadent/build/$(basename "$(dirname "$d")")/"
done
# artifact-check never runs there.
rm -f .device/bin/artifact-check
# Provenance for the copy of the tree that travels without .git.
echo "$(git rev-parse HEAD) $([ -n "$(git status --porcelain --untracked-files=no)" ] && echo true || echo false)" > .device/provenance
du -sh .device
