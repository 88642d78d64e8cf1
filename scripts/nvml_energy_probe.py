#!/usr/bin/env python3
"""Polls NVML's board energy counter, power reading and SM clock every 20 ms while the GPU
is idle, then busy with fp16 matmuls, then idle again; prints CSV.

It captured crates/telemetry/tests/fixtures/h100_energy_counter.csv, the real polls that
gpu_telemetry::energy_power_w is tested on (how often the counter steps, and what it says
against the power reading). NVML through ctypes: no package beyond PyTorch is needed.

    python3 scripts/nvml_energy_probe.py [--busy-s 1.5] [--idle-s 0.5] > polls.csv
"""
import argparse
import ctypes
import sys
import threading
import time


def nvml():
    lib = ctypes.CDLL("libnvidia-ml.so.1")
    if lib.nvmlInit_v2() != 0:
        sys.exit("nvmlInit_v2 failed")
    dev = ctypes.c_void_p()
    if lib.nvmlDeviceGetHandleByIndex_v2(0, ctypes.byref(dev)) != 0:
        sys.exit("no NVML device 0")
    return lib, dev


def poll(lib, dev):
    energy = ctypes.c_ulonglong()
    power = ctypes.c_uint()
    clock = ctypes.c_uint()
    e = lib.nvmlDeviceGetTotalEnergyConsumption(dev, ctypes.byref(energy))
    p = lib.nvmlDeviceGetPowerUsage(dev, ctypes.byref(power))
    c = lib.nvmlDeviceGetClockInfo(dev, 1, ctypes.byref(clock))  # NVML_CLOCK_SM
    return (
        time.time(),
        energy.value if e == 0 else None,
        power.value if p == 0 else None,
        clock.value if c == 0 else None,
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--busy-s", type=float, default=1.5)
    ap.add_argument("--idle-s", type=float, default=0.5)
    args = ap.parse_args()
    import torch

    lib, dev = nvml()
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.float16)
    b = torch.randn(8192, 8192, device="cuda", dtype=torch.float16)
    torch.cuda.synchronize()
    phase = ["idle"]
    rows = []
    stop = threading.Event()

    def poller():
        while not stop.is_set():
            rows.append((phase[0],) + poll(lib, dev))
            time.sleep(0.02)

    t = threading.Thread(target=poller)
    t.start()
    time.sleep(args.idle_s)
    phase[0] = "busy"
    end = time.time() + args.busy_s
    while time.time() < end:
        for _ in range(8):
            a @ b
        torch.cuda.synchronize()
    phase[0] = "idle_after"
    time.sleep(args.idle_s)
    stop.set()
    t.join()
    print("phase,unix_s,energy_mj,power_mw,sm_mhz")
    for r in rows:
        print(",".join("" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v)) for v in r))


if __name__ == "__main__":
    main()
