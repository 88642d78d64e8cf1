#!/usr/bin/env bash
# Installs the pinned CUDA 13.0 compiler toolchain (nvcc, ptxas, cicc, headers; cuobjdump and
# nvdisasm 13.2, which read 13.0 cubins) from Python wheels into .toolchain/cuda (git-ignored).
# No GPU and no root needed. Idempotent: a complete install is left as it is.
# The tools find it on their own (toolchain discovery looks in .toolchain/cuda/nvidia/cu13).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/.toolchain/cuda"
stamp="$dest/.pinned"
pins=(
  nvidia-cuda-nvcc==13.0.88
  nvidia-nvvm==13.0.88
  nvidia-cuda-crt==13.0.88
  nvidia-cuda-cccl==13.0.85
  nvidia-cuda-runtime==13.0.96
  nvidia-cuda-cuobjdump==13.2.86
  nvidia-cuda-nvdisasm==13.2.86
)
want="${pins[*]}"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$dest/nvidia/cu13/bin/nvcc" ]]; then
  echo "pinned CUDA toolchain already installed: $dest/nvidia/cu13" >&2
  exit 0
fi
py=${PYTHON:-python3}
command -v "$py" >/dev/null || { echo "error: $py not found (needed to install the CUDA wheels)" >&2; exit 3; }
tmp="$dest.tmp.$$"
rm -rf "$tmp"
"$py" -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
  --target "$tmp" "${pins[@]}"
echo "$want" > "$tmp/.pinned"
rm -rf "$dest"
mv "$tmp" "$dest"
"$dest/nvidia/cu13/bin/nvcc" --version | tail -n 2 >&2
echo "pinned CUDA toolchain installed: $dest/nvidia/cu13" >&2
