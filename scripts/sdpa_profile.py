#!/usr/bin/env python3
"""Runs one PyTorch SDPA backend a few times at one shape, for a profiler to catch.

Usage: sdpa_profile.py B H S D CAUSAL BACKEND   (BACKEND: cudnn | flash | efficient)
Used under Nsight Compute by scripts/device-run.sh (stage `profile`): the profiler reads
the backend's kernel name, launch configuration and pipe utilisation, which the bench's
timing script does not report.
"""
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel


def main():
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    b, h, s, d, causal = (int(x) for x in sys.argv[1:6])
    backend = {
        "cudnn": SDPBackend.CUDNN_ATTENTION,
        "flash": SDPBackend.FLASH_ATTENTION,
        "efficient": SDPBackend.EFFICIENT_ATTENTION,
    }[sys.argv[6]]
    q, k, v = (torch.randn(b, h, s, d, device="cuda", dtype=torch.half) for _ in range(3))
    with sdpa_kernel(backend):
        for _ in range(3):
            F.scaled_dot_product_attention(q, k, v, is_causal=bool(causal))
    torch.cuda.synchronize()


if __name__ == "__main__":
    main()
