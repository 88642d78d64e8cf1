#!/usr/bin/env python3
"""Times PyTorch scaled_dot_product_attention backends for cudadent's bench.

Prints one JSON object on stdout:
  {"torch": version, "device": name, "baselines": [{"name", "mode", "samples_us",
   "stop_reason", "sampling_s", "launches_per_sample", "method", "max_abs_err",
   "window_unix_s": [start, end] (when the samples were taken, for the bench's GPU polls)}],
   "unavailable": [{"name", "reason"}]}
Timing follows the bench's own method: CUDA events; cold samples flush L2 before each
sample, outside the timed region, through a buffer of at least twice the L2, the same way
the bench does (--l2-flush): `read` reduces it (L2 left holding clean lines, as after
Nsight Compute's cache control), `write` zeroes it (L2 left full of dirty lines);
hot samples replay a CUDA graph of N calls (back to back when capture fails). Before every
cold sample, torch.cuda._sleep holds the GPU (--spin-cycles, as the bench's spin kernel does)
while the host enqueues the flush, the events and the call, so host launch costs are not
timed; hot samples go without, as in the bench. With --code-flush-cubin (the bench's
--icache-flush) every cold sample first runs that cubin's `code_flush` kernel (1 MiB of
straight-line code, --code-flush-grid blocks of --code-flush-threads threads), loaded and
launched through the driver API on PyTorch's stream, so the SMs' instruction caches are
evicted as in the bench. The stopping rule is the bench's: min samples and min time, then
relative stdev below the target or a stable noise estimate, with a timeout. Each backend's
output is checked against the math backend in fp32 before timing.
"""
import argparse
import json
import math
import sys
import time


def stop_reason(samples, noise, elapsed, a):
    if elapsed >= a.timeout:
        return "timeout"
    n = len(samples)
    if n < a.min_samples or elapsed < a.min_time:
        return None
    if noise and noise[-1] < a.target_rel_stdev:
        return "converged"
    w = 64
    if len(noise) >= w:
        ys = noise[-w:]
        xm = (w - 1) / 2
        ym = sum(ys) / w
        sxy = sum((i - xm) * (y - ym) for i, y in enumerate(ys))
        sxx = sum((i - xm) ** 2 for i in range(w))
        if ym > 0 and abs(sxy / sxx * (w - 1)) < 0.02 * ym:
            return "noise_stable"
    return None


def rel_stdev(xs):
    n = len(xs)
    if n < 2:
        return None
    m = sum(xs) / n
    v = sum((x - m) ** 2 for x in xs) / (n - 1)
    return math.sqrt(v) / m if m else None


def sample_loop(torch, a, before, timed, per, spin):
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    samples, noise = [], []
    t0 = time.monotonic()
    while True:
        if spin:
            # Cold: hold the GPU while the host enqueues what follows (the bench's spin kernel).
            torch.cuda._sleep(a.spin_cycles)
        before()
        start.record()
        timed()
        end.record()
        end.synchronize()
        samples.append(start.elapsed_time(end) * 1000.0 / per)
        r = rel_stdev(samples)
        if r is not None:
            noise.append(r)
        why = stop_reason(samples, noise, time.monotonic() - t0, a)
        if why:
            return samples, why, time.monotonic() - t0


def load_code_flush(torch, path, grid, threads):
    """The bench's code flush (--icache-flush): a function that launches `code_flush(sink)`
    from the cubin at `path` (grid x threads) on PyTorch's current stream, through the
    driver API."""
    import ctypes

    cuda = ctypes.CDLL("libcuda.so.1")

    def check(what, rc):
        if rc != 0:
            raise RuntimeError(f"{what}: CUresult {rc}")

    torch.cuda.init()
    sink = torch.zeros(4, dtype=torch.int32, device="cuda")
    module, fn = ctypes.c_void_p(), ctypes.c_void_p()
    check("cuModuleLoad", cuda.cuModuleLoad(ctypes.byref(module), str(path).encode()))
    check("cuModuleGetFunction", cuda.cuModuleGetFunction(ctypes.byref(fn), module, b"code_flush"))
    sink_ptr = ctypes.c_uint64(sink.data_ptr())
    params = (ctypes.c_void_p * 1)(ctypes.cast(ctypes.pointer(sink_ptr), ctypes.c_void_p))
    u = ctypes.c_uint
    cuda.cuLaunchKernel.argtypes = [ctypes.c_void_p, u, u, u, u, u, u, u, ctypes.c_void_p,
                                    ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_void_p)]

    def launch():
        stream = ctypes.c_void_p(torch.cuda.current_stream().cuda_stream)
        check("cuLaunchKernel(code_flush)", cuda.cuLaunchKernel(fn, grid, 1, 1, threads, 1, 1, 0, stream, params, None))

    launch.keep = (sink, sink_ptr, params, module)  # alive as long as the function
    return launch


def main():
    p = argparse.ArgumentParser()
    for k in ("batch", "heads", "seq_len", "head_dim", "warmup", "min_samples", "hot_launches", "l2_bytes", "seed"):
        p.add_argument("--" + k.replace("_", "-"), dest=k, type=int, required=True)
    for k in ("scale", "min_time", "timeout", "target_rel_stdev"):
        p.add_argument("--" + k.replace("_", "-"), dest=k, type=float, required=True)
    p.add_argument("--causal", type=int, default=0)
    p.add_argument("--modes", default="cold,hot")
    p.add_argument("--l2-flush", dest="l2_flush", choices=("read", "write"), default="read")
    p.add_argument("--spin-cycles", dest="spin_cycles", type=int, default=200000)
    p.add_argument("--backends", default="flash,efficient,cudnn")
    p.add_argument("--code-flush-cubin", dest="code_flush_cubin", default=None)
    p.add_argument("--code-flush-grid", dest="code_flush_grid", type=int, default=0)
    p.add_argument("--code-flush-threads", dest="code_flush_threads", type=int, default=128)
    a = p.parse_args()

    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel

    dev = torch.device("cuda")
    torch.manual_seed(a.seed)
    shape = (a.batch, a.heads, a.seq_len, a.head_dim)
    q, k, v = (torch.randn(shape, device=dev, dtype=torch.float16) for _ in range(3))
    causal = bool(a.causal)
    with sdpa_kernel(SDPBackend.MATH):
        ref = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), is_causal=causal, scale=a.scale)
    flush = torch.zeros(max(2 * a.l2_bytes, 8 << 20) // 4, dtype=torch.int32, device=dev)
    flush_l2 = (lambda: flush.max()) if a.l2_flush == "read" else (lambda: flush.zero_())
    if a.code_flush_cubin:
        code_flush = load_code_flush(torch, a.code_flush_cubin, max(1, a.code_flush_grid), a.code_flush_threads)
        only_l2 = flush_l2

        def flush_l2():
            code_flush()
            only_l2()
    backends = {"flash": SDPBackend.FLASH_ATTENTION, "efficient": SDPBackend.EFFICIENT_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION}
    out = {"torch": torch.__version__, "device": torch.cuda.get_device_name(), "baselines": [], "unavailable": []}
    for short in [b for b in a.backends.split(",") if b]:
        name = "torch_sdpa_" + short
        be = backends.get(short)
        if be is None:
            out["unavailable"].append({"name": name, "reason": "unknown backend"})
            continue
        try:
            with sdpa_kernel(be):
                call = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal, scale=a.scale)
                o = call()
                torch.cuda.synchronize()
                err = (o.float() - ref).abs().max().item()
                if not math.isfinite(err) or err > 2e-2:
                    out["unavailable"].append({"name": name, "reason": f"wrong output: max abs err {err:.3e} vs the math backend"})
                    continue
                for _ in range(a.warmup):
                    call()
                torch.cuda.synchronize()
                modes = a.modes.split(",")
                if "cold" in modes:
                    t0 = time.time()
                    s, why, el = sample_loop(torch, a, flush_l2, call, 1, True)
                    out["baselines"].append({"name": name, "mode": "cold", "samples_us": s, "stop_reason": why, "sampling_s": el, "launches_per_sample": 1, "method": "events", "max_abs_err": err, "window_unix_s": [t0, time.time()]})
                if "hot" in modes:
                    n = max(1, a.hot_launches)
                    method = "graph"
                    try:
                        side = torch.cuda.Stream()
                        side.wait_stream(torch.cuda.current_stream())
                        with torch.cuda.stream(side):
                            for _ in range(3):
                                call()
                        torch.cuda.current_stream().wait_stream(side)
                        g = torch.cuda.CUDAGraph()
                        with torch.cuda.graph(g):
                            for _ in range(n):
                                call()
                        g.replay()
                        torch.cuda.synchronize()
                        many = g.replay
                    except Exception as e:  # capture unsupported for this backend
                        method = "back_to_back"
                        out["unavailable"].append({"name": name + " (graph)", "reason": f"graph capture failed, timed back to back: {e}"})

                        def many():
                            for _ in range(n):
                                call()
                    t0 = time.time()
                    s, why, el = sample_loop(torch, a, lambda: None, many, n, False)
                    out["baselines"].append({"name": name, "mode": "hot", "samples_us": s, "stop_reason": why, "sampling_s": el, "launches_per_sample": n, "method": method, "max_abs_err": err, "window_unix_s": [t0, time.time()]})
        except Exception as e:
            out["unavailable"].append({"name": name, "reason": f"{type(e).__name__}: {e}".splitlines()[0][:300]})
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
