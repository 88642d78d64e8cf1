#!/usr/bin/env bash
# The GPU half of the hardening tests (issue 11), run on the GPU machine by
# `scripts/device-run.sh hardening` with the release binaries on PATH. Each case runs a
# real tool in a bad situation and checks its exit code and its words; one line per case,
# `PASS name: detail` or `FAIL name: detail`, on stdout. Exit 1 if any case failed.
#   cases: a kernel that traps (oracle, bench); a GPU whose memory another process holds
#   (oracle, bench on canon_4); python3 without torch (bench); a compute-sanitizer that
#   hangs (sanitizer-gate's timeout); SIGINT to bench while python3 runs its baselines and
#   to sanitizer-gate while compute-sanitizer runs (no child may survive).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
work=$(mktemp -d)
out=$work/artifacts
logs=${HARDENING_LOGS:-logs/hardening}
mkdir -p "$logs"
failed=0
pass() { echo "PASS $1: $2"; }
fail() { echo "FAIL $1: $2"; failed=1; }
# run NAME EXPECTED_EXIT PATTERN COMMAND...: exit code and an extended regex on its output.
run() {
  local name=$1 want=$2 pat=$3; shift 3
  timeout -k 5 300 "$@" > "$logs/$name.log" 2>&1
  local rc=$?
  local line; line=$(grep -E -m1 -o ".{0,60}($pat).{0,100}" "$logs/$name.log" | head -1)
  if [ "$rc" = "$want" ] && [ -n "$line" ]; then pass "$name" "exit $rc; $line"
  else fail "$name" "exit $rc (want $want); pattern '$pat' $([ -n "$line" ] && echo found || echo 'not found'); $(tail -2 "$logs/$name.log" | tr '\n' ' ' | cut -c1-300)"; fi
}

# 1. A kernel that traps.
traps=kernels/selftest/hardening/traps.toml
run trap.oracle 1 "traps.*(launch failure|LAUNCH_FAILED|trap)|(launch failure|LAUNCH_FAILED).*traps" \
  oracle --config configs/canon_1.toml --kernel "$traps" --out "$out"
run trap.bench 1 "traps" \
  bench --config configs/canon_1.toml --kernel "$traps" --out "$out" --no-torch --no-cublas

# 2. Another process holds the GPU's memory: all but LEAVE MiB of what is free.
hold_memory() { # name leave_mib
  rm -f "$work/ready"
  python3 - "$work/ready" "$2" > "$logs/$1.holder.log" 2>&1 <<'PY' &
import sys, time, torch
free, total = torch.cuda.mem_get_info()
hold = torch.empty(free - (int(sys.argv[2]) << 20), dtype=torch.uint8, device="cuda")
print(f"holding {hold.numel() >> 20} MiB of {total >> 20} MiB", flush=True)
open(sys.argv[1], "w").close()
time.sleep(240)
PY
  holder=$!
  for _ in $(seq 1 600); do [ -f "$work/ready" ] && break; sleep 0.1; done
  [ -f "$work/ready" ] || fail "$1" "the memory holder never got ready: $(tail -2 "$logs/$1.holder.log")"
}
# Too little for even a CUDA context:
hold_memory oom.context 96
run oom.context.oracle 3 "not enough GPU memory for a CUDA context" oracle --config configs/canon_4.toml --out "$out"
run oom.context.bench 3 "not enough GPU memory for a CUDA context" bench --config configs/canon_4.toml --out "$out" --no-torch
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
# A context fits, the bench's buffers (about 2.2 GiB at canon_4) do not: refused before any allocation.
hold_memory oom.buffers 1024
run oom.buffers.bench 3 "not enough GPU memory for config .canon_4.*needs [0-9]+ MiB" \
  bench --config configs/canon_4.toml --out "$out" --no-torch
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null

# 3. python3 without torch (site-packages off): the bench runs, says why, exits 0.
mkdir -p "$work/py"
printf '#!/bin/sh\nexec python3 -I -S "$@"\n' > "$work/py/python3"; chmod +x "$work/py/python3"
run notorch.bench 0 "cannot import torch" \
  bench --config configs/canon_1.toml --out "$out" --python "$work/py/python3" --no-cublas

# 4. A compute-sanitizer that hangs: the gate's timeout kills it, the gate fails.
mkdir -p "$work/cs"
cat > "$work/cs/compute-sanitizer" <<'SH'
#!/bin/sh
case "$1" in --version) echo "NVIDIA (R) Compute Sanitizer"; echo "Version 2025.3.1.0"; exit 0;; esac
sleep 600
SH
chmod +x "$work/cs/compute-sanitizer"
run hang.sanitizer 1 "timed out after 3 s" \
  sanitizer-gate --config configs/canon_1.toml --tool memcheck --timeout-s 3 \
  --compute-sanitizer "$work/cs/compute-sanitizer" --out "$out"

# 5. SIGINT to the tool alone while its child runs: the tool exits 130, no child survives.
interrupt() { # name child-pattern command...
  local name=$1 pat=$2; shift 2
  "$@" > "$logs/$name.log" 2>&1 &
  local pid=$! seen=""
  for _ in $(seq 1 600); do
    seen=$(pgrep -f "$pat" | head -1)
    [ -n "$seen" ] && break
    sleep 0.1
  done
  if [ -z "$seen" ]; then kill -KILL "$pid"; wait "$pid"; fail "$name" "its child never started"; return; fi
  sleep 1
  kill -INT "$pid"
  wait "$pid"; local rc=$?
  sleep 1
  local left; left=$(pgrep -f "$pat" | tr '\n' ' ')
  if [ "$rc" = 130 ] && [ -z "$left" ]; then pass "$name" "exit 130 after SIGINT to pid $pid alone; child $seen gone"
  else fail "$name" "exit $rc (want 130); still running: ${left:-none}"; pkill -KILL -f "$pat"; fi
}
interrupt sigint.bench "sdpa_baseline.py" bench --config configs/canon_3.toml --out "$out" --no-cublas
interrupt sigint.sanitizer "compute-sanitizer --tool|--single-launch" \
  sanitizer-gate --config configs/canon_1.toml --tool racecheck --out "$out"

rm -rf "$work"
exit $failed
