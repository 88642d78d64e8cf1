#!/usr/bin/env bash
# Peak host memory and wall time of the GPU tools on canon_4 (issue 11's resource limits),
# run on the GPU machine by `scripts/device-run.sh resources` with the release binaries on
# PATH. Each tool runs under its own small python3 wrapper, which prints the wall time and
# the peak resident set of the tool and of every process it waited for (getrusage of the
# children: for bench, its PyTorch child counts too). Evidence goes to a scratch folder.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scratch=$(mktemp -d)
measure() { # name command...
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
name, cmd = sys.argv[1], sys.argv[2:]
t0 = time.monotonic()
rc = subprocess.call(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
wall = time.monotonic() - t0
peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"{name}: exit {rc}, wall {wall:.1f} s, peak RSS {peak_mib:.0f} MiB")
PY
}
measure "oracle canon_4" oracle --config configs/canon_4.toml --out "$scratch" --quiet
measure "bench canon_4 (with PyTorch and cuBLAS baselines)" bench --config configs/canon_4.toml --out "$scratch" --quiet
measure "bench canon_4 --no-torch" bench --config configs/canon_4.toml --out "$scratch" --quiet --no-torch
measure "sanitizer-gate canon_4 --tool memcheck" sanitizer-gate --config configs/canon_4.toml --tool memcheck --timeout-s 240 --out "$scratch" --quiet
rm -rf "$scratch"
