#!/usr/bin/env bash
# run.sh -- build, inspect and run the wgmma attention prototype's selfcheck on an H100.
# Usage (from the repository root):  bash kernels/attention/variants/wgmma/run.sh OUTDIR
# Needs nvcc (CUDA 13.0) on PATH (or NVCC=/path/to/nvcc) and an sm_90 GPU.
# Writes into OUTDIR:
#   build.log        nvcc + ptxas -v output of the selfcheck build (registers, spills, C75xx notes)
#   cubin.log        ptxas -v of fa_wg.cu alone (all fa_wg entries)
#   sass_counts.log  HGMMA / WARPGROUP.DEPBAR / WARPGROUP.ARRIVE counts per fa_wg entry
#   fa_wg.sass       full SASS of fa_wg.cu
#   selfcheck.log    the selfcheck's output (CHECK / TIME lines)
#   summary.txt      nvidia-smi line, CHECK/TIME lines, exit status
# Exit status: the selfcheck's (0 = all checks passed), or 3 if the build fails.
set -u -o pipefail

if [[ $# -lt 1 ]]; then
  echo "usage: bash kernels/attention/variants/wgmma/run.sh OUTDIR" >&2
  exit 64
fi
out="$1"
mkdir -p "$out"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NVCC="${NVCC:-nvcc}"
nvcc_dir="$(dirname "$(command -v "$NVCC" || echo /nonexistent/nvcc)")"
CUOBJDUMP="${CUOBJDUMP:-$nvcc_dir/cuobjdump}"
[[ -x "$CUOBJDUMP" ]] || CUOBJDUMP=cuobjdump
arch=(-gencode=arch=compute_90a,code=sm_90a)
# Where the toolkit keeps libcudart_static.a in lib/ rather than lib64/ (pip wheels).
extra_l=()
[[ -f "$nvcc_dir/../lib/libcudart_static.a" ]] && extra_l=(-L"$nvcc_dir/../lib")

bin="$out/fa_wg_selfcheck"
if [[ -n "${FA_WG_SELFCHECK_BIN:-}" ]]; then
  # A selfcheck built elsewhere (the CPU machine, with the pinned toolchain): run it as is.
  [[ -x "$FA_WG_SELFCHECK_BIN" ]] || { echo "FA_WG_SELFCHECK_BIN=$FA_WG_SELFCHECK_BIN is not executable" >&2; exit 3; }
  echo "# prebuilt selfcheck: $FA_WG_SELFCHECK_BIN" > "$out/build.log"
  "$FA_WG_SELFCHECK_BIN" > "$out/selfcheck.log" 2>&1
  rc=$?
  {
    nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader 2>/dev/null || true
    grep -E '^(device|kernel|CHECK|CHECKS|TIME) ' "$out/selfcheck.log"
    echo "selfcheck exit status: $rc"
  } > "$out/summary.txt"
  cat "$out/summary.txt"
  exit "$rc"
fi
{
  echo "# $(date -u +%FT%TZ) $("$NVCC" --version | tail -n 2 | tr '\n' ' ')"
  echo "# $NVCC ${arch[*]} -O3 -lineinfo -Xptxas -v ${extra_l[*]} -o $bin $here/fa_wg_selfcheck.cu"
} > "$out/build.log"
if ! "$NVCC" "${arch[@]}" -O3 -lineinfo -Xptxas -v "${extra_l[@]}" -o "$bin" \
    "$here/fa_wg_selfcheck.cu" >> "$out/build.log" 2>&1; then
  echo "build failed: see $out/build.log" >&2
  tail -n 30 "$out/build.log" >&2
  echo "build: FAILED" > "$out/summary.txt"
  exit 3
fi

# The kernel file alone: ptxas -v, SASS, HGMMA counts per entry.
"$NVCC" "${arch[@]}" -O3 -lineinfo -cubin -Xptxas -v -o "$out/fa_wg.cubin" "$here/fa_wg.cu" \
  > "$out/cubin.log" 2>&1 || echo "cubin build failed (see cubin.log)" >&2
if [[ -f "$out/fa_wg.cubin" ]]; then
  "$CUOBJDUMP" -sass "$out/fa_wg.cubin" > "$out/fa_wg.sass" 2>&1 || true
  {
    for f in fa_wg_fwd_d64 fa_wg_m128_fwd_d64 fa_wg_ovl_fwd_d64 fa_wg_m128_ovl_fwd_d64; do
      s="$("$CUOBJDUMP" -sass -fun "$f" "$out/fa_wg.cubin" 2>/dev/null)"
      printf '%s HGMMA=%s HGMMA.F32=%s WARPGROUP.ARRIVE=%s WARPGROUP.DEPBAR=%s\n' "$f" \
        "$(grep -c 'HGMMA' <<<"$s")" "$(grep -c 'HGMMA\.[0-9x]*\.F32' <<<"$s")" \
        "$(grep -c 'WARPGROUP.ARRIVE' <<<"$s")" "$(grep -c 'WARPGROUP.DEPBAR' <<<"$s")"
    done
    echo "total HGMMA in cubin: $(grep -c HGMMA "$out/fa_wg.sass")"
  } > "$out/sass_counts.log"
fi

"$bin" > "$out/selfcheck.log" 2>&1
rc=$?
{
  nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader 2>/dev/null || true
  grep -E '^(device|kernel) ' "$out/selfcheck.log"
  grep -E 'Compiling entry|registers|spill|C75' "$out/cubin.log" | sed 's/^ptxas info *: //'
  cat "$out/sass_counts.log" 2>/dev/null
  grep -E '^(CHECK|CHECKS|TIME) ' "$out/selfcheck.log"
  echo "selfcheck exit status: $rc"
} > "$out/summary.txt"
cat "$out/summary.txt"
exit "$rc"
